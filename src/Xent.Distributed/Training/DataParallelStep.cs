using Xent.Distributed.Vocabulary;
using Xent.Training;
using Xent.Training.Checkpoints;
using Xent.Training.Model;
using Xent.Training.Runs;

namespace Xent.Distributed.Training;

/// <summary>
/// The data-parallel step of a <see cref="TrainingLoop"/> (<c>mpirun -np K xent train</c>): every rank runs the same
/// loop on the same global batches, computes its contiguous slice of each in <c>accumulate</c> micro-batches, and
/// one all-reduce (<see cref="DataParallelGradients"/>) gives every rank the whole batch's gradient, divided by the
/// global count of kept targets; then every rank makes the same AdamW update (<see cref="Trainer.Apply"/>), so the
/// replicas stay bitwise identical. Rank 0 writes the run's files; the others wait for its checkpoints.
/// With <c>vocabParallel</c> (<c>xent train --vocab-parallel --untied</c>) the untied unembedding is split across the
/// ranks by vocabulary instead of replicated: each rank holds its rows and their AdamW moments, computes the loss
/// head of every rank's tokens on them (<see cref="VocabParallelHead"/>), and the checkpoints gather the rows at
/// rank 0, so they are those of one process.
/// </summary>
public sealed class DataParallelStep : IGradientStep
{
    private readonly ICommunicator communicator;
    private readonly int[] stopFlag = new int[1];
    private DataParallelGradients? gradients;
    private VocabParallelGradients? vocabGradients;
    private GptModel? model;

    /// <summary>Steps over <paramref name="communicator"/>'s ranks.</summary>
    /// <param name="communicator">The data-parallel group (the world under mpirun).</param>
    /// <param name="accumulate">Micro-batches per rank and step (gradient accumulation), &gt;= 1.</param>
    /// <param name="vocabParallel">Whether to split the untied unembedding across the ranks by vocabulary (the model must be untied).</param>
    public DataParallelStep(ICommunicator communicator, int accumulate = 1, bool vocabParallel = false)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        ArgumentOutOfRangeException.ThrowIfLessThan(accumulate, 1);
        this.communicator = communicator;
        Accumulate = accumulate;
        VocabParallel = vocabParallel;
    }

    /// <summary>Micro-batches per rank and step.</summary>
    public int Accumulate { get; }

    /// <inheritdoc/>
    public int WorldSize => communicator.Size;

    /// <inheritdoc/>
    public bool WritesOutputs => communicator.Rank == 0;

    /// <inheritdoc/>
    public bool VocabParallel { get; }

    /// <inheritdoc/>
    public GptModel CreateModel(TrainingPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (!VocabParallel)
        {
            return plan.CreateModel();
        }

        if (plan.Model.TieEmbeddings)
        {
            throw new ArgumentException("A vocabulary-parallel head needs an untied unembedding (a tied one is also the token embedding, which is not split).", nameof(plan));
        }

        var slice = VocabularySlice.For(plan.Model.VocabSize, communicator);
        var replica = (plan.Resume?.Model ?? plan.Init) is { } whole
            ? whole.WithHeadRows(slice.Offset, slice.Width)
            : new GptModel(plan.Model, plan.Seed, (slice.Offset, slice.Width));
        replica.LossHead = new VocabParallelHead(communicator, plan.Model.VocabSize, plan.Model.Dim);
        return replica;
    }

    /// <inheritdoc/>
    public TrainStepResult Step(Trainer trainer, ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, int batch, int seq)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        if (!ReferenceEquals(model, trainer.Model))
        {
            model = trainer.Model;
            gradients = VocabParallel ? null : new DataParallelGradients(communicator, model);
            vocabGradients = VocabParallel ? new VocabParallelGradients(communicator, model) : null;
        }

        if (vocabGradients is not null)
        {
            var (loss, norm) = vocabGradients.ForwardBackward(tokens, targets, batch, seq, Accumulate, trainer.Optimizer.StepCount);
            return trainer.Apply(loss, norm);
        }

        return trainer.Apply(gradients!.ForwardBackward(tokens, targets, batch, seq, Accumulate, trainer.Optimizer.StepCount));
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
    public void FromWriter(Span<double> values) => communicator.Broadcast(values, 0);

    /// <inheritdoc/>
    public CheckpointState? CheckpointState(Trainer trainer)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        if (!VocabParallel)
        {
            return WritesOutputs ? Xent.Training.Checkpoints.CheckpointState.Of(trainer.Model, trainer.Optimizer) : null;
        }

        // The unembedding's rows, and their moments, gathered at rank 0 into the whole [V, D] of one process.
        var local = Xent.Training.Checkpoints.CheckpointState.Of(trainer.Model, trainer.Optimizer);
        int at = trainer.Model.Parameters.ToList().FindIndex(p => ReferenceEquals(p, trainer.Model.UntiedHead));
        var config = trainer.Model.Config;
        var weights = GatherRows(local.Weights[at].Data, config);
        var m = GatherRows(local.M[at].Data, config);
        var v = GatherRows(local.V[at].Data, config);
        if (!WritesOutputs)
        {
            return null;
        }

        return local with
        {
            Weights = Replace(local.Weights, at, weights),
            M = Replace(local.M, at, m),
            V = Replace(local.V, at, v),
        };
    }

    /// <inheritdoc/>
    public void AfterSave() => communicator.Barrier();

    // Rank 0: the whole [V, D] from every rank's rows (slices differ by at most a row: each sends one as wide as the widest).
    private float[] GatherRows(float[] rows, GptConfig config)
    {
        int k = communicator.Size, d = config.Dim, widest = VocabularySlice.For(config.VocabSize, 0, k).Width * d;
        var send = new float[widest];
        rows.CopyTo(send, 0);
        var all = WritesOutputs ? new float[(long)k * widest] : [];
        communicator.Gather<float>(send, all, 0);
        if (!WritesOutputs)
        {
            return [];
        }

        var whole = new float[(long)config.VocabSize * d];
        for (int q = 0; q < k; q++)
        {
            var slice = VocabularySlice.For(config.VocabSize, q, k);
            all.AsSpan(q * widest, slice.Width * d).CopyTo(whole.AsSpan(slice.Offset * d));
        }

        return whole;
    }

    private static SafeTensor[] Replace(IReadOnlyList<SafeTensor> tensors, int at, float[] whole)
    {
        var list = tensors.ToArray();
        list[at] = list[at] with { Shape = [whole.Length / list[at].Shape[1], list[at].Shape[1]], Data = whole };
        return list;
    }
}
