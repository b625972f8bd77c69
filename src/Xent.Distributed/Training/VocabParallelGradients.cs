using System.Numerics.Tensors;
using Xent.Distributed.Vocabulary;
using Xent.Optim;
using Xent.Training.Model;

namespace Xent.Distributed.Training;

/// <summary>
/// Gradients of a <see cref="GptModel"/> trained data-parallel with its untied unembedding split by vocabulary: rank r
/// holds the rows of its <see cref="VocabularySlice"/> (<see cref="GptModel.HeadRows"/>) and their AdamW state, and
/// the same replica of everything else. Every rank has the same global batch [B, T] and computes its rows
/// <see cref="ContiguousSplit.Of"/>(B, r, K) in micro-batches; the loss head of each micro-batch is computed for every
/// rank's tokens by every rank, on its slice (<see cref="VocabParallelHead"/>), with each row's loss weighted by 1 / the
/// global count of kept targets, so every gradient is already the global batch's mean-loss gradient: the replicated
/// parameters' gradients are summed over the ranks in one all-reduce of one bucket, the slice's stay on their rank.
/// </summary>
internal sealed class VocabParallelGradients
{
    private readonly ICommunicator communicator;
    private readonly GptModel model;
    private readonly VocabParallelHead head;
    private readonly Parameter[] replicated;
    private readonly Parameter unembedding;
    private readonly float[] bucket;
    private readonly float[] headGradient;
    private readonly double[] headSquares = new double[1];

    public VocabParallelGradients(ICommunicator communicator, GptModel model)
    {
        this.communicator = communicator;
        this.model = model;
        head = model.LossHead as VocabParallelHead
            ?? throw new ArgumentException("The model's loss head must be the vocabulary-parallel head (DataParallelStep.CreateModel makes such a model).", nameof(model));
        unembedding = model.UntiedHead ?? throw new ArgumentException("A vocabulary-parallel head needs an untied unembedding.", nameof(model));
        replicated = [.. model.Parameters.Where(p => !ReferenceEquals(p, unembedding))];
        bucket = new float[replicated.Sum(p => p.Length)];
        headGradient = new float[unembedding.Length];
    }

    /// <summary>Bytes each rank puts into the all-reduce of the replicated gradients per step.</summary>
    public long BucketBytes => bucket.LongLength * sizeof(float);

    /// <summary>
    /// Overwrites every <see cref="Parameter.Grad"/> with the gradient of the global batch's mean loss (this rank's rows
    /// of the unembedding's) and returns that loss and the global gradient norm, the same on every rank.
    /// </summary>
    public (float Loss, float Norm) ForwardBackward(ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, int batch, int seq, int accumulate, long step)
    {
        int k = communicator.Size, ignore = model.LossOptions.IgnoreIndex;
        long globalKept = DataParallelGradients.Kept(targets, ignore);
        float rowGradient = globalKept == 0 ? 0f : (float)(1.0 / globalKept);
        var options = new LinearCrossEntropyOptions { CrossEntropy = model.LossOptions with { MaxDegreeOfParallelism = model.MaxDegreeOfParallelism } };
        Array.Clear(bucket);
        Array.Clear(headGradient);
        double lossSum = 0;
        var (first, rows) = ContiguousSplit.Of(batch, communicator.Rank, k);
        for (int m = 0; m < accumulate; m++)
        {
            // Every rank knows every rank's micro-batch m: the blocks to gather, as wide as the widest.
            int block = 0;
            for (int q = 0; q < k; q++)
            {
                var (_, qRows) = ContiguousSplit.Of(batch, q, k);
                block = Math.Max(block, ContiguousSplit.Of(qRows, m, accumulate).Count * seq);
            }

            if (block == 0)
            {
                continue; // no rank has rows in this micro-batch
            }

            var gatheredTargets = new int[k * block];
            Array.Fill(gatheredTargets, ignore);
            for (int q = 0; q < k; q++)
            {
                var (qFirst, qRows) = ContiguousSplit.Of(batch, q, k);
                var (qStart, qCount) = ContiguousSplit.Of(qRows, m, accumulate);
                targets.Slice((qFirst + qStart) * seq, qCount * seq).CopyTo(gatheredTargets.AsSpan(q * block));
            }

            head.Prepare(gatheredTargets, block, rowGradient);
            var (start, count) = ContiguousSplit.Of(rows, m, accumulate);
            if (count > 0)
            {
                int from = (first + start) * seq, length = count * seq;
                model.ForwardBackward(tokens.Slice(from, length), targets.Slice(from, length), count, seq, step, first + start);
                int offset = 0;
                foreach (var p in replicated)
                {
                    var slot = bucket.AsSpan(offset, p.Length);
                    TensorPrimitives.Add(slot, p.Grad, slot);
                    offset += p.Length;
                }
            }
            else
            {
                // This rank has no tokens in the micro-batch but holds a slice of the head for the others'.
                head.LossAndGradients([], unembedding.Data, [], new LinearCrossEntropyGradients([], unembedding.Grad), options);
            }

            TensorPrimitives.Add(headGradient, unembedding.Grad, headGradient);
            lossSum += head.LastLossSum;
        }

        communicator.AllReduce<float>(bucket, ReduceOperation.Sum);
        int at = 0;
        foreach (var p in replicated)
        {
            bucket.AsSpan(at, p.Length).CopyTo(p.Grad);
            at += p.Length;
        }

        headGradient.CopyTo(unembedding.Grad, 0);

        // The global norm: the replicated part is the same on every rank, the slices' squares add up over the ranks.
        float own = GradientClipping.GlobalNorm(replicated.Select(p => p.Grad).ToArray(), model.MaxDegreeOfParallelism);
        float slice = GradientClipping.GlobalNorm([unembedding.Grad], model.MaxDegreeOfParallelism);
        headSquares[0] = (double)slice * slice;
        communicator.AllReduce<double>(headSquares, ReduceOperation.Sum);
        float norm = (float)Math.Sqrt(((double)own * own) + headSquares[0]);
        return (globalKept == 0 ? float.NaN : (float)(lossSum / globalKept), norm);
    }
}
