using System.Buffers;
using Xent.LinearAlgebra;

namespace Xent.Distributed.Vocabulary;

/// <summary>
/// <see cref="LinearCrossEntropy"/> with the unembedding split across the ranks by vocabulary (tensor parallel):
/// rank r holds its rows of W, weightShard [V_r, D] (and biasShard [V_r]) for the classes of its
/// <see cref="VocabularySlice.For(int, ICommunicator)"/>, and the same hidden states h [N, D] and targets [N] as
/// every other rank. The logits are computed 128 tokens at a time ([128, V_r] tiles by <see cref="MatMul.Gemm"/>; the
/// whole [N, V_r] is never held), folded into per-row states, merged across the ranks once per call (one all-reduce
/// Max and one Sum of the row states, after an all-reduce Max of 48 bytes, before the first tile, that checks the
/// ranks' arguments), and the
/// backward recomputes the tiles: each rank writes its dW_r and db_r, and dh is all-reduced (one Sum). Every rank
/// gets the same loss and dh. Every rank must make the same call with the same V, hidden states, targets, options and
/// upstream gradients: a rank passing another throws an <see cref="ArgumentException"/> naming it, as every other
/// rank does (Loss beside LossPerRow is the same call: they differ only in what each rank reads from the merged
/// states). Every option means what it means in one process;
/// <see cref="LinearCrossEntropyOptions.FilterThreshold"/> is validated but nothing is filtered (the exact result is
/// within any threshold's bound) and <see cref="LinearCrossEntropyOptions.CacheBytes"/> is validated but not used
/// (tiles are always recomputed).
/// </summary>
public static class VocabParallelLinearCrossEntropy
{
    /// <summary>Tokens per logits tile.</summary>
    public const int BlockTokens = 128;

    /// <summary>The reduced loss (Mean or Sum) of logits h W^T + b over the whole vocabulary, the same on every rank (three collectives).</summary>
    /// <param name="communicator">The group.</param>
    /// <param name="hidden">Hidden states h [N, D] (the same on every rank).</param>
    /// <param name="weightShard">This rank's rows of W, [V_r, D].</param>
    /// <param name="biasShard">This rank's slice of b [V_r], or empty for no bias.</param>
    /// <param name="classes">V, the whole vocabulary.</param>
    /// <param name="targets">Targets [N] over the whole vocabulary.</param>
    /// <param name="options">Loss options; null for PyTorch's defaults. Reduction.None throws: use <see cref="LossPerRow"/>.</param>
    /// <returns>The loss; NaN for a mean over no kept rows.</returns>
    public static float Loss(ICommunicator communicator, ReadOnlySpan<float> hidden, ReadOnlySpan<float> weightShard, ReadOnlySpan<float> biasShard,
        int classes, ReadOnlySpan<int> targets, CrossEntropyOptions? options = null)
    {
        var o = Reduced(options);
        return Run(communicator, hidden, weightShard, biasShard, classes, targets, default, default, default, o, 1f, [], false);
    }

    /// <summary>Per-row losses r [N] of the whole vocabulary (0 for ignored rows) and, on request, lse [N]; the same on every rank.</summary>
    /// <param name="communicator">The group.</param>
    /// <param name="hidden">Hidden states h [N, D] (the same on every rank).</param>
    /// <param name="weightShard">This rank's rows of W, [V_r, D].</param>
    /// <param name="biasShard">This rank's slice of b [V_r], or empty.</param>
    /// <param name="classes">V.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="losses">Destination r [N].</param>
    /// <param name="logSumExp">Destination lse [N] of the (capped) logits, every row, or empty.</param>
    /// <param name="options">Loss options; Reduction is not used.</param>
    public static void LossPerRow(ICommunicator communicator, ReadOnlySpan<float> hidden, ReadOnlySpan<float> weightShard, ReadOnlySpan<float> biasShard,
        int classes, ReadOnlySpan<int> targets, Span<float> losses, Span<float> logSumExp = default, CrossEntropyOptions? options = null)
    {
        var o = (options ?? CrossEntropyOptions.Default) with { Reduction = Reduction.None };
        if (losses.Length != targets.Length)
        {
            throw new ArgumentException($"losses has {losses.Length} entries but there are N = {targets.Length} rows.", nameof(losses));
        }

        Run(communicator, hidden, weightShard, biasShard, classes, targets, default, losses, logSumExp, o, 1f, [], false);
    }

    /// <summary>
    /// The reduced loss (Mean or Sum) and upstream x its gradients: dh [N, D] (all-reduced, the same on every rank),
    /// this rank's dW_r [V_r, D] and, when asked, db_r [V_r]. Overwritten, or added to with
    /// <see cref="LinearCrossEntropyOptions.Accumulate"/>.
    /// </summary>
    /// <param name="communicator">The group.</param>
    /// <param name="hidden">Hidden states h [N, D] (the same on every rank).</param>
    /// <param name="weightShard">This rank's rows of W, [V_r, D].</param>
    /// <param name="biasShard">This rank's slice of b [V_r], or empty.</param>
    /// <param name="classes">V.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="gradients">Destinations dL/dh [N, D], this rank's dL/dW_r [V_r, D], and dL/db_r [V_r] if given.</param>
    /// <param name="upstream">Upstream gradient g of the loss; 1 for a plain loss. The returned loss is not scaled.</param>
    /// <param name="logSumExp">Destination lse [N], or empty.</param>
    /// <param name="options">Options (a <see cref="CrossEntropyOptions"/> converts); Reduction.None throws: use <see cref="Gradients"/>.</param>
    /// <returns>The loss (not multiplied by <paramref name="upstream"/>).</returns>
    public static float LossAndGradients(ICommunicator communicator, ReadOnlySpan<float> hidden, ReadOnlySpan<float> weightShard, ReadOnlySpan<float> biasShard,
        int classes, ReadOnlySpan<int> targets, LinearCrossEntropyGradients gradients, float upstream = 1f, Span<float> logSumExp = default,
        LinearCrossEntropyOptions? options = null)
    {
        var o = options ?? LinearCrossEntropyOptions.Default;
        Reduced(o.CrossEntropy);
        return Run(communicator, hidden, weightShard, biasShard, classes, targets, gradients, default, logSumExp, o, upstream, [], true);
    }

    /// <summary>
    /// The backward of the per-row losses (Reduction.None inside a caller's graph): gradients of sum_n g[n] r[n],
    /// dh all-reduced and this rank's dW_r and db_r; r and lse written on request by the same pass.
    /// </summary>
    /// <param name="communicator">The group.</param>
    /// <param name="hidden">Hidden states h [N, D] (the same on every rank).</param>
    /// <param name="weightShard">This rank's rows of W, [V_r, D].</param>
    /// <param name="biasShard">This rank's slice of b [V_r], or empty.</param>
    /// <param name="classes">V.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="upstream">Upstream gradients g [N], the same on every rank (ignored rows get no gradient).</param>
    /// <param name="gradients">Destinations dL/dh [N, D], this rank's dL/dW_r [V_r, D], and dL/db_r [V_r] if given.</param>
    /// <param name="losses">Destination r [N] (0 for ignored rows), or empty.</param>
    /// <param name="logSumExp">Destination lse [N], or empty.</param>
    /// <param name="options">Options (a <see cref="CrossEntropyOptions"/> converts); Reduction is not used.</param>
    public static void Gradients(ICommunicator communicator, ReadOnlySpan<float> hidden, ReadOnlySpan<float> weightShard, ReadOnlySpan<float> biasShard,
        int classes, ReadOnlySpan<int> targets, ReadOnlySpan<float> upstream, LinearCrossEntropyGradients gradients, Span<float> losses = default,
        Span<float> logSumExp = default, LinearCrossEntropyOptions? options = null)
    {
        var o = options ?? LinearCrossEntropyOptions.Default;
        ArgumentNullException.ThrowIfNull(o.CrossEntropy, "options.CrossEntropy");
        if (upstream.Length != targets.Length)
        {
            throw new ArgumentException($"upstream has {upstream.Length} entries but there are N = {targets.Length} rows.", nameof(upstream));
        }

        o = o with { CrossEntropy = o.CrossEntropy with { Reduction = Reduction.None } };
        Run(communicator, hidden, weightShard, biasShard, classes, targets, gradients, losses, logSumExp, o, 1f, upstream, true);
    }

    /// <summary>
    /// <see cref="Gradients"/> without the final sum of dh: each rank's dh [N, D] is its slice's part (the product of
    /// its dlogits columns with its rows of W), and the sum over the ranks of these parts is dL/dh. For a caller that
    /// needs only some rows of dh on each rank: a reduce-scatter of the parts moves 1/K of what the all-reduce would
    /// (the vocabulary-parallel head of data-parallel training, where each rank's rows are its own tokens).
    /// </summary>
    /// <param name="communicator">The group.</param>
    /// <param name="hidden">Hidden states h [N, D] (the same on every rank).</param>
    /// <param name="weightShard">This rank's rows of W, [V_r, D].</param>
    /// <param name="biasShard">This rank's slice of b [V_r], or empty.</param>
    /// <param name="classes">V.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="upstream">Upstream gradients g [N], the same on every rank (ignored rows get no gradient).</param>
    /// <param name="gradients">Destinations: this rank's part of dL/dh [N, D], its dL/dW_r [V_r, D], and dL/db_r [V_r] if given.</param>
    /// <param name="losses">Destination r [N] (0 for ignored rows), or empty.</param>
    /// <param name="options">Options (a <see cref="CrossEntropyOptions"/> converts); Reduction is not used.</param>
    public static void PartialGradients(ICommunicator communicator, ReadOnlySpan<float> hidden, ReadOnlySpan<float> weightShard, ReadOnlySpan<float> biasShard,
        int classes, ReadOnlySpan<int> targets, ReadOnlySpan<float> upstream, LinearCrossEntropyGradients gradients, Span<float> losses = default,
        LinearCrossEntropyOptions? options = null)
    {
        var o = options ?? LinearCrossEntropyOptions.Default;
        ArgumentNullException.ThrowIfNull(o.CrossEntropy, "options.CrossEntropy");
        if (upstream.Length != targets.Length)
        {
            throw new ArgumentException($"upstream has {upstream.Length} entries but there are N = {targets.Length} rows.", nameof(upstream));
        }

        o = o with { CrossEntropy = o.CrossEntropy with { Reduction = Reduction.None } };
        Run(communicator, hidden, weightShard, biasShard, classes, targets, gradients, losses, default, o, 1f, upstream, true, reduceHidden: false);
    }

    private static CrossEntropyOptions Reduced(CrossEntropyOptions? options)
    {
        var o = options ?? CrossEntropyOptions.Default;
        return o.Reduction == Reduction.None
            ? throw new ArgumentException("Reduction.None has no single loss: call LossPerRow, or Gradients for the backward.", nameof(options))
            : o;
    }

    private static float Run(ICommunicator communicator, ReadOnlySpan<float> hidden, ReadOnlySpan<float> weightShard, ReadOnlySpan<float> biasShard,
        int classes, ReadOnlySpan<int> targets, LinearCrossEntropyGradients gradients, Span<float> rowLosses, Span<float> logSumExp,
        LinearCrossEntropyOptions o, float upstream, ReadOnlySpan<float> rowUpstream, bool backward, bool reduceHidden = true)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        var ce = o.CrossEntropy ?? throw new ArgumentException("CrossEntropy options must not be null.", nameof(o));
        var slice = VocabularySlice.For(classes, communicator);
        var shape = LinearShardShape.Check(hidden.Length, weightShard.Length, biasShard.Length, targets.Length, slice, o);
        var dHidden = gradients.Hidden;
        var dBiasShard = gradients.Bias;
        var dWeightShard = backward ? shape.CheckGradients(gradients) : default;
        shape.CheckOptional(rowLosses.Length, "losses");
        shape.CheckOptional(logSumExp.Length, nameof(logSumExp));
        int n = targets.Length;
        var call = !backward ? VocabularyCall.LinearLoss : reduceHidden ? VocabularyCall.LinearGradients : VocabularyCall.LinearPartialGradients;
        // LossPerRow (None without gradients) reads no Reduction; the gradients' scales, which dh sums, always do.
        Reduction? reduction = call == VocabularyCall.LinearLoss && ce.Reduction == Reduction.None ? null : ce.Reduction;
        var fingerprint = CallFingerprint.Of(call, classes, n, shape.D, ce, reduction).WithHidden(hidden);
        if (backward && ce.Reduction == Reduction.None)
        {
            fingerprint.WithUpstream(rowUpstream);
        }
        else if (backward)
        {
            fingerprint.WithUpstream(upstream);
        }

        // Before the tiles: a refused call need not pay the forward GEMM, and a rank whose differing options make its
        // own targets invalid would throw alone at its first tile, the others waiting in a collective.
        fingerprint.Agree(communicator);
        if (n == 0)
        {
            if (backward && !o.Accumulate)
            {
                dWeightShard.Clear();
                dBiasShard.Clear();
            }

            return ce.Reduction == Reduction.Mean ? float.NaN : 0f;
        }

        var tile = ArrayPool<float>.Shared.Rent(Math.Max(1, BlockTokens * slice.Width));
        try
        {
            var states = new CrossEntropyShardState[n];
            for (int t0 = 0; t0 < n; t0 += BlockTokens)
            {
                int rows = Math.Min(BlockTokens, n - t0);
                var z = Logits(shape, hidden, weightShard, biasShard, t0, rows, tile, ce.MaxDegreeOfParallelism);
                CrossEntropyShards.Compute(z, slice.Offset, classes, targets.Slice(t0, rows), states.AsSpan(t0, rows), ce);
            }

            ShardStateExchange.Merge(communicator, states, targets, ce.IgnoreIndex);
            float loss = LossOf(states, targets, classes, ce, rowLosses);
            VocabParallelCrossEntropy.WriteLogSumExp(states, logSumExp);
            if (backward)
            {
                var (scales, backwardOptions) = RowScales.For(targets, ce, upstream, rowUpstream);
                Backward(communicator, shape, hidden, weightShard, biasShard, targets, states, scales, backwardOptions, dHidden, dWeightShard, dBiasShard, o, tile, reduceHidden);
            }

            return loss;
        }
        finally
        {
            ArrayPool<float>.Shared.Return(tile);
        }
    }

    private static float LossOf(CrossEntropyShardState[] states, ReadOnlySpan<int> targets, int classes, CrossEntropyOptions ce, Span<float> rowLosses)
    {
        if (!rowLosses.IsEmpty)
        {
            CrossEntropyShards.LossPerRow(states, targets, classes, rowLosses, ce);
        }

        // Reduction.None has no single loss; its callers return nothing.
        return ce.Reduction == Reduction.None ? 0f : CrossEntropyShards.Loss(states, targets, classes, ce);
    }

    private static void Backward(ICommunicator communicator, LinearShardShape shape, ReadOnlySpan<float> hidden, ReadOnlySpan<float> weightShard,
        ReadOnlySpan<float> biasShard, ReadOnlySpan<int> targets, CrossEntropyShardState[] states, float[] upstream, CrossEntropyOptions backwardOptions,
        Span<float> dHidden, Span<float> dWeightShard, Span<float> dBiasShard, LinearCrossEntropyOptions o, float[] tile, bool reduceHidden)
    {
        int n = targets.Length, d = shape.D, width = shape.Slice.Width, stride = Math.Max(1, width);
        var ce = o.CrossEntropy;
        var dh = o.Accumulate ? new float[dHidden.Length] : dHidden;
        var db = dBiasShard.IsEmpty ? null : new double[width];
        for (int t0 = 0; t0 < n; t0 += BlockTokens)
        {
            int rows = Math.Min(BlockTokens, n - t0);
            var g = Logits(shape, hidden, weightShard, biasShard, t0, rows, tile, ce.MaxDegreeOfParallelism);
            CrossEntropyShards.Gradient(g, shape.Slice.Offset, shape.Slice.Classes, targets.Slice(t0, rows), states.AsSpan(t0, rows),
                upstream.AsSpan(t0, rows), g, backwardOptions);
            var h = hidden.Slice(t0 * d, rows * d);
            float beta = t0 == 0 && !o.Accumulate ? 0f : 1f;
            MatMul.Gemm(true, false, width, d, rows, 1f, g, stride, h, d, beta, dWeightShard, d, ce.MaxDegreeOfParallelism);
            MatMul.Gemm(false, false, rows, d, width, 1f, g, stride, weightShard, d, 0f, dh.Slice(t0 * d, rows * d), d, ce.MaxDegreeOfParallelism);
            if (db != null)
            {
                for (int t = 0; t < rows; t++)
                {
                    var row = g.Slice(t * width, width);
                    for (int c = 0; c < width; c++)
                    {
                        db[c] += row[c];
                    }
                }
            }
        }

        if (reduceHidden)
        {
            communicator.AllReduce(dh, ReduceOperation.Sum);
        }

        if (o.Accumulate)
        {
            for (int i = 0; i < dh.Length; i++)
            {
                dHidden[i] += dh[i];
            }
        }

        if (db != null)
        {
            for (int c = 0; c < width; c++)
            {
                dBiasShard[c] = (float)((o.Accumulate ? dBiasShard[c] : 0.0) + db[c]);
            }
        }
    }

    // The tile z [rows, V_r] = h[t0 .. t0 + rows) W_r^T + b_r, in the front of the tile buffer.
    private static Span<float> Logits(LinearShardShape shape, ReadOnlySpan<float> hidden, ReadOnlySpan<float> weightShard, ReadOnlySpan<float> biasShard,
        int t0, int rows, float[] tile, int threads)
    {
        int d = shape.D, width = shape.Slice.Width;
        var z = tile.AsSpan(0, rows * width);
        // An empty slice (more ranks than classes) still needs strides of at least 1.
        MatMul.Gemm(false, true, rows, width, d, 1f, hidden.Slice(t0 * d, rows * d), d, weightShard, d, 0f, z, Math.Max(1, width), threads);
        if (!biasShard.IsEmpty)
        {
            for (int t = 0; t < rows; t++)
            {
                System.Numerics.Tensors.TensorPrimitives.Add(z.Slice(t * width, width), biasShard, z.Slice(t * width, width));
            }
        }

        return z;
    }
}
