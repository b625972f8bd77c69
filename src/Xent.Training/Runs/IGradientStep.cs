using Xent.Training.Checkpoints;
using Xent.Training.Model;

namespace Xent.Training.Runs;

/// <summary>
/// How a <see cref="TrainingLoop"/> turns each global batch into an optimizer step, and which process writes the
/// run's files. One process by default (<see cref="LocalGradientStep"/>); Xent.Distributed's data-parallel step
/// spreads every batch over K processes that each run the same loop.
/// </summary>
public interface IGradientStep
{
    /// <summary>K, the processes training together (1 for one); written as world_size to summary.json and metrics.jsonl.</summary>
    int WorldSize { get; }

    /// <summary>Whether this process writes the checkpoint, metrics.jsonl and summary.json (exactly one does: rank 0).</summary>
    bool WritesOutputs { get; }

    /// <summary>Whether the unembedding is split across the processes by vocabulary; written as vocab_parallel to summary.json and metrics.jsonl.</summary>
    bool VocabParallel { get; }

    /// <summary>
    /// The model this process trains: the plan's resumed or --init model, or a new one of its config and seed
    /// (<see cref="TrainingPlan.CreateModel"/>); a vocabulary-parallel step keeps only this process's rows of the unembedding.
    /// </summary>
    /// <param name="plan">The run's plan.</param>
    GptModel CreateModel(TrainingPlan plan);

    /// <summary>
    /// Every process gets the writer's <paramref name="values"/> (what it read from its folder, what it decided): the
    /// other processes may not see its folder, and must decide as it does.
    /// </summary>
    /// <param name="values">The writer's values in, on every process out; the same length everywhere.</param>
    void FromWriter(Span<double> values);

    /// <summary>
    /// Called by every process at each checkpoint: the whole model's weights and AdamW state that the writer saves
    /// (a vocabulary-parallel step gathers the unembedding's rows), null on the other processes.
    /// </summary>
    /// <param name="trainer">This process's trainer.</param>
    CheckpointState? CheckpointState(Trainer trainer);

    /// <summary>One optimizer step on the global batch, the same batch on every process.</summary>
    /// <param name="trainer">This process's trainer (its model is the same on every process).</param>
    /// <param name="tokens">Input tokens [B, T] of the global batch.</param>
    /// <param name="targets">Targets [B, T].</param>
    /// <param name="batch">B.</param>
    /// <param name="seq">T.</param>
    /// <returns>The step's result, the same on every process.</returns>
    TrainStepResult Step(Trainer trainer, ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, int batch, int seq);

    /// <summary>Whether to stop before the next step: true on every process as soon as any asks, so that all stop after the same step.</summary>
    /// <param name="requested">Whether this process was asked to stop (Ctrl+C).</param>
    bool AgreeToStop(bool requested);

    /// <summary>Called by every process after each checkpoint; returns once the writer's files are complete.</summary>
    void AfterSave();
}

/// <summary>One process: <see cref="Trainer.Step"/>, and this process writes everything.</summary>
public sealed class LocalGradientStep : IGradientStep
{
    /// <summary>The one instance (it holds no state).</summary>
    public static LocalGradientStep Instance { get; } = new();

    private LocalGradientStep()
    {
    }

    /// <inheritdoc/>
    public int WorldSize => 1;

    /// <inheritdoc/>
    public bool WritesOutputs => true;

    /// <inheritdoc/>
    public bool VocabParallel => false;

    /// <inheritdoc/>
    public GptModel CreateModel(TrainingPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return plan.CreateModel();
    }

    /// <inheritdoc/>
    public void FromWriter(Span<double> values)
    {
    }

    /// <inheritdoc/>
    public CheckpointState? CheckpointState(Trainer trainer)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        return Checkpoints.CheckpointState.Of(trainer.Model, trainer.Optimizer);
    }

    /// <inheritdoc/>
    public TrainStepResult Step(Trainer trainer, ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, int batch, int seq)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        return trainer.Step(tokens, targets, batch, seq);
    }

    /// <inheritdoc/>
    public bool AgreeToStop(bool requested) => requested;

    /// <inheritdoc/>
    public void AfterSave()
    {
    }
}
