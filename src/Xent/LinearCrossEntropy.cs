using Xent.Fused;

namespace Xent;

/// <summary>
/// Fused projection + cross-entropy: the loss of logits z = h W^T (+ b), and its gradients, without ever holding z.
/// Shapes: N tokens, D hidden size, V classes. hidden [N, D], weight [V, D] (row c is class c), bias [V],
/// targets [N]. Every option of <see cref="CrossEntropyOptions"/> means exactly what it means for
/// <see cref="CrossEntropy"/>. Extra memory does not grow with N or V (nothing proportional to N x V): a few MB for
/// the loss alone; with gradients about 52 MB of buffers, 32 MB of which cache the current token block's logits
/// tiles so that the backward does not recompute them (<see cref="LinearCrossEntropyOptions.CacheBytes"/>; the cache
/// shrinks when a large D needs the room). The buffer is kept for the next call (see
/// <see cref="ReleaseScratchMemory"/>).
/// </summary>
/// <remarks>
/// The logits are computed one tile (252 classes x 128 tokens) at a time by a register-blocked matrix kernel and
/// folded straight into per-token log-sum-exp state; gradients reuse the cached tiles and recompute the others.
/// Results are bitwise the same for any thread count (fixed vocabulary groups, partials merged in a fixed order),
/// and a token's loss, log-sum-exp and (with Sum) dh are bitwise the same alone or in any batch, at any position.
/// </remarks>
public static unsafe partial class LinearCrossEntropy
{
    /// <summary>
    /// Frees the buffer the fused kernel keeps between calls (sized by the largest call so far: about 52 MB, more
    /// when D is above about 5,700 at 9 KB per hidden unit; never more than 96 MB is kept): a training loop reuses
    /// it every step instead of paying for fresh pages.
    /// The next call allocates a new one. Buffers of calls still running are freed when those calls end.
    /// </summary>
    public static void ReleaseScratchMemory() => ScratchPool.Release();

    /// <summary>The reduced loss (Mean or Sum) of logits hidden * weight^T.</summary>
    /// <param name="hidden">Hidden states h [N, D]; D = hidden.Length / N.</param>
    /// <param name="weight">Unembedding W [V, D]; V = weight.Length / D.</param>
    /// <param name="targets">Targets [N]: classes in [0, V) or the ignore index.</param>
    /// <param name="options">Loss options; null for PyTorch's defaults. Reduction.None throws: use the overload with row losses.</param>
    /// <returns>The loss; NaN for a mean over no kept rows.</returns>
    public static float Loss(ReadOnlySpan<float> hidden, ReadOnlySpan<float> weight, ReadOnlySpan<int> targets, CrossEntropyOptions? options = null)
    {
        var o = Wrap(options);
        return Loss(hidden, weight, [], targets, [], [], o);
    }

    /// <summary>The loss (Mean or Sum), and gradients dHidden [N, D] and dWeight [V, D] (overwritten, not accumulated).</summary>
    /// <param name="hidden">Hidden states h [N, D].</param>
    /// <param name="weight">Unembedding W [V, D].</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="dHidden">Destination dL/dh [N, D].</param>
    /// <param name="dWeight">Destination dL/dW [V, D].</param>
    /// <param name="options">Loss options; Reduction.None throws: use the overload with row losses.</param>
    /// <returns>The loss.</returns>
    public static float LossAndGradients(ReadOnlySpan<float> hidden, ReadOnlySpan<float> weight, ReadOnlySpan<int> targets,
        Span<float> dHidden, Span<float> dWeight, CrossEntropyOptions? options = null)
    {
        var o = Wrap(options);
        return LossAndGradients(hidden, weight, [], targets, dHidden, dWeight, [], [], [], o);
    }

    /// <summary>
    /// The loss of logits hidden * weight^T + bias, with the per-row losses and log-sum-exp written out on request.
    /// </summary>
    /// <param name="hidden">Hidden states h [N, D]; D = hidden.Length / N.</param>
    /// <param name="weight">Unembedding W [V, D]; V = weight.Length / D.</param>
    /// <param name="bias">Bias b [V], or empty for none.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="rowLosses">Destination r [N] of the per-row losses (0 for ignored rows), or empty.</param>
    /// <param name="logSumExp">Destination lse [N] of the (capped) logits' log-sum-exp, every row, or empty.</param>
    /// <param name="options">Options; null for every default.</param>
    /// <returns>The Mean or Sum loss; for <see cref="Reduction.None"/>, the sum of the row losses.</returns>
    public static float Loss(ReadOnlySpan<float> hidden, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, ReadOnlySpan<int> targets,
        Span<float> rowLosses, Span<float> logSumExp, LinearCrossEntropyOptions? options = null)
    {
        fixed (float* w = weight)
        {
            return Core(hidden, w, weight.Length, -1, bias, targets, [], null, 0, [], rowLosses, logSumExp, options, false);
        }
    }

    /// <summary>
    /// The loss of logits hidden * weight^T + bias and its gradients, with per-row losses and log-sum-exp on request.
    /// Gradients are overwritten, or added to when <see cref="LinearCrossEntropyOptions.Accumulate"/>.
    /// </summary>
    /// <param name="hidden">Hidden states h [N, D]; D = hidden.Length / N.</param>
    /// <param name="weight">Unembedding W [V, D]; V = weight.Length / D.</param>
    /// <param name="bias">Bias b [V], or empty for none.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="dHidden">Destination dL/dh [N, D].</param>
    /// <param name="dWeight">Destination dL/dW [V, D].</param>
    /// <param name="dBias">Destination dL/db [V], or empty when not wanted (it may be asked for without a bias).</param>
    /// <param name="rowLosses">Destination r [N] of the per-row losses, or empty.</param>
    /// <param name="logSumExp">Destination lse [N], or empty.</param>
    /// <param name="options">Options; for <see cref="Reduction.None"/> the gradients are those of sum_n g[n] r[n] (g = RowUpstream).</param>
    /// <returns>The Mean or Sum loss; for <see cref="Reduction.None"/>, the sum of the row losses.</returns>
    public static float LossAndGradients(ReadOnlySpan<float> hidden, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, ReadOnlySpan<int> targets,
        Span<float> dHidden, Span<float> dWeight, Span<float> dBias, Span<float> rowLosses, Span<float> logSumExp,
        LinearCrossEntropyOptions? options = null)
    {
        fixed (float* w = weight, dw = dWeight)
        {
            return Core(hidden, w, weight.Length, -1, bias, targets, dHidden, dw, dWeight.Length, dBias, rowLosses, logSumExp, options, true);
        }
    }

    /// <summary>
    /// <see cref="Loss(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{int}, Span{float}, Span{float}, LinearCrossEntropyOptions?)"/>
    /// for a weight of any size (V x D may exceed 2^31 elements): W is read through a pointer.
    /// </summary>
    /// <param name="hidden">Hidden states h [N, D], D = <paramref name="hiddenSize"/>.</param>
    /// <param name="weight">Unembedding W [V, D], V = <paramref name="classes"/>, row-major, at least V x D floats.</param>
    /// <param name="classes">V.</param>
    /// <param name="hiddenSize">D.</param>
    /// <param name="bias">Bias b [V], or empty.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="rowLosses">Destination r [N], or empty.</param>
    /// <param name="logSumExp">Destination lse [N], or empty.</param>
    /// <param name="options">Options.</param>
    /// <returns>The loss, as the span overload.</returns>
    public static float Loss(ReadOnlySpan<float> hidden, float* weight, int classes, int hiddenSize, ReadOnlySpan<float> bias,
        ReadOnlySpan<int> targets, Span<float> rowLosses, Span<float> logSumExp, LinearCrossEntropyOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(hiddenSize, 1);
        ArgumentNullException.ThrowIfNull(weight);
        return Core(hidden, weight, (long)classes * hiddenSize, hiddenSize, bias, targets, [], null, 0, [], rowLosses, logSumExp, options, false);
    }

    /// <summary>
    /// The gradient overload for a weight of any size (V x D may exceed 2^31 elements): W and dW through pointers.
    /// </summary>
    /// <param name="hidden">Hidden states h [N, D], D = <paramref name="hiddenSize"/>.</param>
    /// <param name="weight">Unembedding W [V, D], at least V x D floats.</param>
    /// <param name="classes">V.</param>
    /// <param name="hiddenSize">D.</param>
    /// <param name="bias">Bias b [V], or empty.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="dHidden">Destination dL/dh [N, D].</param>
    /// <param name="dWeight">Destination dL/dW [V, D], at least V x D floats.</param>
    /// <param name="dBias">Destination dL/db [V], or empty.</param>
    /// <param name="rowLosses">Destination r [N], or empty.</param>
    /// <param name="logSumExp">Destination lse [N], or empty.</param>
    /// <param name="options">Options.</param>
    /// <returns>The loss, as the span overload.</returns>
    public static float LossAndGradients(ReadOnlySpan<float> hidden, float* weight, int classes, int hiddenSize, ReadOnlySpan<float> bias,
        ReadOnlySpan<int> targets, Span<float> dHidden, float* dWeight, Span<float> dBias, Span<float> rowLosses, Span<float> logSumExp,
        LinearCrossEntropyOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(hiddenSize, 1);
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(dWeight);
        long length = (long)classes * hiddenSize;
        return Core(hidden, weight, length, hiddenSize, bias, targets, dHidden, dWeight, length, dBias, rowLosses, logSumExp, options, true);
    }

    private static LinearCrossEntropyOptions Wrap(CrossEntropyOptions? options)
    {
        var ce = options ?? CrossEntropyOptions.Default;
        if (ce.Reduction == Reduction.None)
        {
            throw new ArgumentException("Reduction.None has no single loss: call the overload with rowLosses.", nameof(options));
        }

        return new LinearCrossEntropyOptions { CrossEntropy = ce };
    }

    // hiddenSize < 0: D = hidden.Length / N (span overloads).
    private static float Core(ReadOnlySpan<float> hidden, float* weight, long weightLength, int hiddenSize, ReadOnlySpan<float> bias,
        ReadOnlySpan<int> targets, Span<float> dHidden, float* dWeight, long dWeightLength, Span<float> dBias,
        Span<float> rowLosses, Span<float> logSumExp, LinearCrossEntropyOptions? options, bool backward)
    {
        var o = options ?? LinearCrossEntropyOptions.Default;
        var ce = o.CrossEntropy ?? throw new ArgumentException("CrossEntropy options must not be null.", nameof(options));
        int n = targets.Length;
        int d = Dimension(hidden.Length, n, hiddenSize);
        if (d == 0)
        {
            return EmptyBatch(bias, dWeight, dWeightLength, dBias, ce, o, backward);
        }

        if (weightLength % d != 0 || weightLength == 0)
        {
            throw new ArgumentException($"The weight's length {weightLength} is not a positive multiple of D = {d} (weight is [V, D]).", "weight");
        }

        long vLong = weightLength / d;
        if (vLong > int.MaxValue)
        {
            throw new ArgumentException($"V = {vLong} classes exceeds int.MaxValue.", "weight");
        }

        int v = (int)vLong;
        CheckCommon(v, n, bias, ce, o);
        CrossEntropyChecks.Targets(targets, v, ce.IgnoreIndex);
        if (backward)
        {
            CrossEntropyChecks.Destination(dHidden.Length, (long)n * d, nameof(dHidden));
            CrossEntropyChecks.Destination(dWeightLength, (long)v * d, "dWeight");
            OptionalDestination(dBias.Length, v, nameof(dBias));
        }

        OptionalDestination(rowLosses.Length, n, nameof(rowLosses));
        OptionalDestination(logSumExp.Length, n, nameof(logSumExp));

        fixed (float* h = hidden, b = bias, dh = dHidden, db = dBias, rl = rowLosses, ls = logSumExp)
        fixed (int* y = targets)
        fixed (float* cw = ce.ClassWeights.Span, up = o.RowUpstream.Span)
        {
            var problem = new FusedProblem
            {
                Hidden = h,
                Weight = weight,
                Bias = bias.IsEmpty ? null : b,
                Targets = y,
                N = n,
                D = d,
                V = v,
                IgnoreIndex = ce.IgnoreIndex,
                LabelSmoothing = ce.LabelSmoothing,
                ZLoss = ce.ZLoss,
                SoftCap = ce.SoftCap,
                ClassWeights = ce.ClassWeights.IsEmpty ? null : cw,
                Reduction = ce.Reduction,
                Upstream = o.Upstream,
                RowUpstream = o.RowUpstream.IsEmpty ? null : up,
                FilterThreshold = o.FilterThreshold,
                CacheBytes = o.CacheBytes,
                Accumulate = o.Accumulate,
                MaxDegreeOfParallelism = ce.MaxDegreeOfParallelism,
                Backward = backward,
                DHidden = backward ? dh : null,
                DWeight = backward ? dWeight : null,
                DBias = backward && !dBias.IsEmpty ? db : null,
                RowLosses = rowLosses.IsEmpty ? null : rl,
                LogSumExp = logSumExp.IsEmpty ? null : ls,
            };
            return (float)FusedKernel.Run(problem);
        }
    }

    private static int Dimension(long hiddenLength, int n, int hiddenSize)
    {
        if (n == 0)
        {
            if (hiddenLength != 0)
            {
                throw new ArgumentException($"There are no targets but {hiddenLength} hidden values; with N = 0 the hidden states must be empty.", "hidden");
            }

            return 0;
        }

        if (hiddenSize > 0)
        {
            if (hiddenLength != (long)n * hiddenSize)
            {
                throw new ArgumentException($"hidden has {hiddenLength} values but N x D = {n} x {hiddenSize}.", "hidden");
            }

            return hiddenSize;
        }

        if (hiddenLength % n != 0 || hiddenLength == 0)
        {
            throw new ArgumentException($"The hidden states' length {hiddenLength} is not a positive multiple of N = {n} (hidden is [N, D]).", "hidden");
        }

        return (int)(hiddenLength / n);
    }

    private static void CheckCommon(int v, int n, ReadOnlySpan<float> bias, CrossEntropyOptions ce, LinearCrossEntropyOptions o)
    {
        CrossEntropyChecks.Options(ce, v);
        if (!bias.IsEmpty && bias.Length != v)
        {
            throw new ArgumentException($"bias has {bias.Length} entries but there are V = {v} classes.", nameof(bias));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(o.CacheBytes, nameof(o.CacheBytes));
        if (!(o.FilterThreshold >= 0) || float.IsPositiveInfinity(o.FilterThreshold))
        {
            throw new ArgumentOutOfRangeException(nameof(o), o.FilterThreshold, "FilterThreshold must be a finite value >= 0 (0 = exact).");
        }

        if (!o.RowUpstream.IsEmpty && o.RowUpstream.Length != n)
        {
            throw new ArgumentException($"RowUpstream has {o.RowUpstream.Length} entries but there are N = {n} rows.", nameof(o));
        }
    }

    private static void OptionalDestination(int length, long needed, string name)
    {
        if (length != 0)
        {
            CrossEntropyChecks.Destination(length, needed, name);
        }
    }

    // N = 0: nothing to compute, but the options are still checked and overwritten gradients are zeroed.
    private static float EmptyBatch(ReadOnlySpan<float> bias, float* dWeight, long dWeightLength, Span<float> dBias,
        CrossEntropyOptions ce, LinearCrossEntropyOptions o, bool backward)
    {
        int v = !bias.IsEmpty ? bias.Length : !ce.ClassWeights.IsEmpty ? ce.ClassWeights.Length : !dBias.IsEmpty ? dBias.Length : 1;
        CheckCommon(v, 0, bias, ce, o);
        if (backward && !o.Accumulate)
        {
            for (long i = 0; i < dWeightLength; i += int.MaxValue)
            {
                new Span<float>(dWeight + i, (int)Math.Min(int.MaxValue, dWeightLength - i)).Clear();
            }

            dBias.Clear();
        }

        return ce.Reduction == Reduction.Mean ? float.NaN : 0f;
    }
}
