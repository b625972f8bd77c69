namespace Xent;

/// <summary>
/// Cross-entropy of next-token prediction over a logits matrix, and its gradient, with PyTorch's semantics
/// (<c>torch.nn.functional.cross_entropy</c>) plus z-loss and soft capping. Shapes: N rows (tokens, batch x
/// sequence flattened), V classes (vocabulary); logits [N, V] row-major, V = logits.Length / N.
/// </summary>
/// <remarks>
/// Every overload reads the logits from memory once (an online softmax over L1-sized blocks), computes in float
/// with double row states and a double reduction, uses every core (also within a row when rows are few), and
/// returns bitwise the same result for any <see cref="CrossEntropyOptions.MaxDegreeOfParallelism"/>. It is also batch
/// invariant, a guarantee: a row's loss, log-sum-exp and (with Sum or per-row upstream gradients) gradient row are
/// bitwise the same alone or in a batch of any size, at any position (for one vector width). Bad input
/// throws <see cref="ArgumentException"/> (or <see cref="ArgumentOutOfRangeException"/>) before any output is written;
/// an output that overlaps an input or another output is bad input, except a gradient that is exactly its logits'
/// memory (in place).
/// </remarks>
public static partial class CrossEntropy
{
    /// <summary>The reduced loss (Mean or Sum).</summary>
    /// <param name="logits">Logits [N, V] row-major.</param>
    /// <param name="targets">Targets [N]: class indices in [0, V) or the ignore index. V = logits.Length / N.</param>
    /// <param name="options">Options; null for PyTorch's defaults. Reduction.None throws: use <see cref="LossPerRow(ReadOnlySpan{float}, ReadOnlySpan{int}, Span{float}, CrossEntropyOptions?)"/>.</param>
    /// <returns>The loss; NaN for Mean when every row is ignored (or N = 0), as PyTorch.</returns>
    public static unsafe float Loss(ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, CrossEntropyOptions? options = null)
    {
        fixed (float* x = logits)
        {
            return (float)ClassIndexCall.Run(x, logits.Length, false, targets, options, CallKind.Loss);
        }
    }

    /// <summary>The reduced loss (Mean or Sum) with its cross-entropy and z-loss parts.</summary>
    /// <param name="logits">Logits [N, V] row-major.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="options">Options; Reduction.None throws: use LossPerRow with lse (row n's z-loss part is ZLoss lse[n]^2).</param>
    /// <returns>The loss (bitwise as <c>Loss</c>) and its parts.</returns>
    public static unsafe LossParts LossWithParts(ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, CrossEntropyOptions? options = null)
    {
        LossParts parts = default;
        fixed (float* x = logits)
        {
            ClassIndexCall.Run(x, logits.Length, false, targets, options, CallKind.Loss, parts: &parts);
        }

        return parts;
    }

    /// <summary>Per-row losses r [N] (0 for ignored rows); options.Reduction is not used.</summary>
    /// <param name="logits">Logits [N, V].</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="losses">Destination r [N].</param>
    /// <param name="options">Options; null for PyTorch's defaults.</param>
    public static unsafe void LossPerRow(ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, Span<float> losses, CrossEntropyOptions? options = null)
    {
        fixed (float* x = logits)
        {
            ClassIndexCall.Run(x, logits.Length, false, targets, options, CallKind.PerRow, losses: losses, lossesRequired: true);
        }
    }

    /// <summary>
    /// Per-row losses r [N] and per-row log-sum-exp lse [N] of the (soft-capped) logits, in one pass: lse is what
    /// z-loss penalises, and what a caller's own graph needs for its backward.
    /// </summary>
    /// <param name="logits">Logits [N, V].</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="losses">Destination r [N] (0 for ignored rows).</param>
    /// <param name="logSumExp">Destination lse [N], for every row, ignored or not (NaN for a row of only -inf).</param>
    /// <param name="options">Options; Reduction is not used.</param>
    public static unsafe void LossPerRow(ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, Span<float> losses, Span<float> logSumExp, CrossEntropyOptions? options = null)
    {
        fixed (float* x = logits)
        {
            ClassIndexCall.Run(x, logits.Length, false, targets, options, CallKind.PerRow, losses: losses, lossesRequired: true, logSumExp: logSumExp, logSumExpRequired: true);
        }
    }

    /// <summary>The reduced loss, and d(loss)/d(logits) into gradient [N, V], which may be the logits' own memory.</summary>
    /// <param name="logits">Logits [N, V].</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="gradient">Destination [N, V]; may be exactly the logits' memory (in place), or must not overlap it.</param>
    /// <param name="options">Options; Reduction Mean or Sum (None throws: use <see cref="Gradient(ReadOnlySpan{float}, ReadOnlySpan{int}, ReadOnlySpan{float}, Span{float}, CrossEntropyOptions?, ReadOnlySpan{float})"/>).</param>
    /// <returns>The loss that <see cref="Loss(ReadOnlySpan{float}, ReadOnlySpan{int}, CrossEntropyOptions?)"/> computes, to float rounding (its sums may run another way: a few ulp apart).</returns>
    public static float LossAndGradient(ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, Span<float> gradient, CrossEntropyOptions? options = null) =>
        LossAndGradient(logits, targets, gradient, 1f, default, options);

    /// <summary>
    /// The reduced loss, and upstream x d(loss)/d(logits) into gradient [N, V]; optionally the per-row
    /// log-sum-exp too.
    /// </summary>
    /// <param name="logits">Logits [N, V].</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="gradient">Destination [N, V]; may be exactly the logits' memory (in place).</param>
    /// <param name="upstream">Upstream gradient g of the loss (a loss scale, or dL'/dL of an enclosing graph); 1 for a plain loss. The returned loss is not scaled.</param>
    /// <param name="logSumExp">Destination lse [N], or empty for none.</param>
    /// <param name="options">Options; Reduction Mean or Sum.</param>
    /// <param name="logSumExpGradient">The caller's own dL/dlse [N] (of a function of lse computed outside, such as a z-loss variant), or empty: each kept row's gradient gains g_lse[n] p[n, c] (times the soft cap's factor), not scaled by the reduction or upstream; ignored rows get none.</param>
    /// <returns>The loss (not multiplied by <paramref name="upstream"/>).</returns>
    public static unsafe float LossAndGradient(ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, Span<float> gradient, float upstream, Span<float> logSumExp = default, CrossEntropyOptions? options = null,
        ReadOnlySpan<float> logSumExpGradient = default)
    {
        fixed (float* x = logits)
        fixed (float* g = gradient)
        {
            return (float)ClassIndexCall.Run(x, logits.Length, false, targets, options, CallKind.LossAndGradient,
                logSumExp: logSumExp, gradient: g, gradientLength: gradient.Length, upstream: upstream, logSumExpUpstream: logSumExpGradient);
        }
    }

    /// <summary>
    /// The backward of the per-row losses (Reduction.None inside a caller's graph): gradient = d(sum_n g[n] r[n]) /
    /// d(logits), with r as <see cref="LossPerRow(ReadOnlySpan{float}, ReadOnlySpan{int}, Span{float}, CrossEntropyOptions?)"/>.
    /// </summary>
    /// <param name="logits">Logits [N, V].</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="upstream">Upstream gradients g [N], one per row (ignored rows get a zero gradient whatever g says).</param>
    /// <param name="gradient">Destination [N, V]; may be exactly the logits' memory (in place).</param>
    /// <param name="options">Options; Reduction is not used.</param>
    /// <param name="logSumExpGradient">The caller's own dL/dlse [N] (of a function of lse computed outside, such as a z-loss variant), or empty: each kept row's gradient gains g_lse[n] p[n, c] (times the soft cap's factor), not scaled by the reduction or upstream; ignored rows get none.</param>
    public static unsafe void Gradient(ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, ReadOnlySpan<float> upstream, Span<float> gradient, CrossEntropyOptions? options = null,
        ReadOnlySpan<float> logSumExpGradient = default)
    {
        fixed (float* x = logits)
        fixed (float* g = gradient)
        {
            ClassIndexCall.Run(x, logits.Length, false, targets, options, CallKind.Backward, gradient: g, gradientLength: gradient.Length, rowUpstream: upstream,
                logSumExpUpstream: logSumExpGradient);
        }
    }

    /// <summary>Per-row log-sum-exp lse[n] = log sum_c exp(z[n, c]) of the (soft-capped) logits.</summary>
    /// <param name="logits">Logits [N, V]; N = destination.Length.</param>
    /// <param name="destination">Destination lse [N] (NaN for a row of only -inf or with NaN/+inf).</param>
    /// <param name="softCap">Soft cap s (0 = off), as <see cref="CrossEntropyOptions.SoftCap"/>.</param>
    public static unsafe void LogSumExp(ReadOnlySpan<float> logits, Span<float> destination, float softCap = 0f)
    {
        fixed (float* x = logits)
        {
            ClassIndexCall.LogSumExp(x, logits.Length, false, destination, softCap);
        }
    }
}
