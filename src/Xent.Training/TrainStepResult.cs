namespace Xent.Training;

/// <summary>What one <see cref="Trainer.Step"/> did.</summary>
/// <param name="Step">0-based index of this step (its schedule position).</param>
/// <param name="Loss">Mean training loss of the batch, before the update, in nats per token.</param>
/// <param name="GradientNorm">Global gradient norm before clipping.</param>
/// <param name="LearningRate">Learning rate used.</param>
/// <param name="Updated">False when the loss or the gradient norm was not finite: the parameters and optimizer
/// state were left untouched, and the caller should stop.</param>
public readonly record struct TrainStepResult(int Step, float Loss, float GradientNorm, float LearningRate, bool Updated);
