using Xent.Training;
using Xent.Training.Model;
using Xent.Training.Runs;

namespace Xent.Distributed.Training;

/// <summary>
/// The data-parallel step of a <see cref="TrainingLoop"/> (<c>mpirun -np K xent train</c>): every rank runs the same
/// loop on the same global batches, computes its contiguous slice of each in <c>accumulate</c> micro-batches, and
/// one all-reduce (<see cref="DataParallelGradients"/>) gives every rank the whole batch's gradient, divided by the
/// global count of kept targets; then every rank makes the same AdamW update (<see cref="Trainer.Apply"/>), so the
/// replicas stay bitwise identical. Rank 0 writes the run's files; the others wait for its checkpoints.
/// </summary>
public sealed class DataParallelStep : IGradientStep
{
    private readonly ICommunicator communicator;
    private readonly int[] stopFlag = new int[1];
    private DataParallelGradients? gradients;
    private GptModel? model;

    /// <summary>Steps over <paramref name="communicator"/>'s ranks.</summary>
    /// <param name="communicator">The data-parallel group (the world under mpirun).</param>
    /// <param name="accumulate">Micro-batches per rank and step (gradient accumulation), &gt;= 1.</param>
    public DataParallelStep(ICommunicator communicator, int accumulate = 1)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        ArgumentOutOfRangeException.ThrowIfLessThan(accumulate, 1);
        this.communicator = communicator;
        Accumulate = accumulate;
    }

    /// <summary>Micro-batches per rank and step.</summary>
    public int Accumulate { get; }

    /// <inheritdoc/>
    public int WorldSize => communicator.Size;

    /// <inheritdoc/>
    public bool WritesOutputs => communicator.Rank == 0;

    /// <inheritdoc/>
    public TrainStepResult Step(Trainer trainer, ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, int batch, int seq)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        if (gradients is null || !ReferenceEquals(model, trainer.Model))
        {
            gradients = new DataParallelGradients(communicator, trainer.Model);
            model = trainer.Model;
        }

        return trainer.Apply(gradients.ForwardBackward(tokens, targets, batch, seq, Accumulate, trainer.Optimizer.StepCount));
    }

    /// <inheritdoc/>
    public bool AgreeToStop(bool requested)
    {
        // A Ctrl+C reaches the ranks at slightly different times: all stop at the first step boundary where any saw it.
        stopFlag[0] = requested ? 1 : 0;
        communicator.AllReduce<int>(stopFlag, ReduceOperation.Max);
        return stopFlag[0] != 0;
    }

    /// <inheritdoc/>
    public void AfterSave() => communicator.Barrier();
}
