namespace Xent.Training.Runs;

/// <summary>The state after a training step, as a progress display shows it.</summary>
/// <param name="Step">Optimizer steps done.</param>
/// <param name="TotalSteps">Steps of the plan.</param>
/// <param name="Loss">Training loss of the step's batch (nats/token).</param>
/// <param name="LastValLoss">The latest validation loss measured (the initial one before the first evaluation).</param>
/// <param name="TokensPerSecond">Training tokens per second of this run so far.</param>
/// <param name="Evaluated">Whether the validation loss was measured (and a checkpoint saved) after this step.</param>
public sealed record StepReport(long Step, long TotalSteps, double Loss, double? LastValLoss, double TokensPerSecond, bool Evaluated);
