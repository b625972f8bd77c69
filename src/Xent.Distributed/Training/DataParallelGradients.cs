using System.Numerics.Tensors;
using Xent.Training.Model;

namespace Xent.Distributed.Training;

/// <summary>
/// Data-parallel gradients of a <see cref="GptModel"/>: every rank holds the same model and the same global batch
/// [B, T] (the batches one process would train on), computes the rows <see cref="ContiguousSplit.Of"/>(B, r, K) in
/// <c>accumulate</c> micro-batches, and one all-reduce of one bucket (every gradient in parameter order, and the loss)
/// gives every rank the gradient of the global batch's mean loss: each micro-batch's mean-loss gradient is weighted
/// by its share of the global count of non-ignored targets, so the result is divided by that global count, never a
/// mean of per-rank (or per-micro-batch) means. Every rank ends with bitwise the same gradients, so the same
/// optimizer step keeps the models identical.
/// </summary>
public sealed class DataParallelGradients
{
    private readonly ICommunicator communicator;
    private readonly GptModel model;
    private readonly float[] bucket;

    /// <summary>Gradients of <paramref name="model"/> (this rank's replica) over <paramref name="communicator"/>'s ranks.</summary>
    /// <param name="communicator">The data-parallel group.</param>
    /// <param name="model">This rank's replica, the same parameters on every rank.</param>
    public DataParallelGradients(ICommunicator communicator, GptModel model)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        ArgumentNullException.ThrowIfNull(model);
        this.communicator = communicator;
        this.model = model;
        bucket = new float[model.Parameters.Sum(p => p.Length) + 1];
    }

    /// <summary>Bytes each rank puts into the all-reduce per step (every gradient and the loss, float32).</summary>
    public long BucketBytes => bucket.LongLength * sizeof(float);

    /// <summary>
    /// Overwrites every <see cref="Parameter.Grad"/> with the gradient of the global batch's mean loss and returns
    /// that loss, the same on every rank (NaN, with zero gradients, when every target is ignored).
    /// </summary>
    /// <param name="tokens">The global batch's input tokens [B, T] (the same on every rank).</param>
    /// <param name="targets">Its targets [B, T].</param>
    /// <param name="batch">B, sequences in the global batch.</param>
    /// <param name="seq">T.</param>
    /// <param name="accumulate">Micro-batches per rank (gradient accumulation), &gt;= 1.</param>
    /// <param name="step">The optimizer step, which seeds the model's dropout masks.</param>
    public float ForwardBackward(ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, int batch, int seq, int accumulate = 1, long step = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(seq, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(accumulate, 1);
        if (tokens.Length != batch * seq || targets.Length != batch * seq)
        {
            throw new ArgumentException($"tokens and targets must both hold B x T = {batch} x {seq} values (they hold {tokens.Length} and {targets.Length}).", nameof(tokens));
        }

        int ignore = model.LossOptions.IgnoreIndex;
        long globalKept = Kept(targets, ignore);
        Array.Clear(bucket);
        var (first, rows) = ContiguousSplit.Of(batch, communicator.Rank, communicator.Size);
        double lossSum = 0;
        for (int m = 0; m < accumulate; m++)
        {
            var (start, count) = ContiguousSplit.Of(rows, m, accumulate);
            int from = (first + start) * seq, length = count * seq;
            var pieceTargets = targets.Slice(from, length);
            long kept = Kept(pieceTargets, ignore);
            if (kept == 0)
            {
                continue; // no loss, no gradient (and a mean over nothing would be NaN)
            }

            float loss = model.ForwardBackward(tokens.Slice(from, length), pieceTargets, count, seq, step, first + start);
            float share = (float)((double)kept / globalKept);
            int offset = 0;
            foreach (var p in model.Parameters)
            {
                var slot = bucket.AsSpan(offset, p.Length);
                TensorPrimitives.MultiplyAdd(p.Grad, share, slot, slot);
                offset += p.Length;
            }

            lossSum += (double)loss * kept;
        }

        bucket[^1] = (float)lossSum;
        communicator.AllReduce<float>(bucket, ReduceOperation.Sum);
        int at = 0;
        foreach (var p in model.Parameters)
        {
            bucket.AsSpan(at, p.Length).CopyTo(p.Grad);
            at += p.Length;
        }

        return globalKept == 0 ? float.NaN : (float)(bucket[^1] / (double)globalKept);
    }

    internal static long Kept(ReadOnlySpan<int> targets, int ignore)
    {
        long kept = 0;
        foreach (int y in targets)
        {
            kept += y != ignore ? 1 : 0;
        }

        return kept;
    }
}
