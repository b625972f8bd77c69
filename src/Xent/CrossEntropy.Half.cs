namespace Xent;

/// <summary>
/// Half-precision logits: read as Half, computed in float (double row states), gradient rounded to Half once. The
/// same entry points and options as float logits: the numbers are the float path's on the widened values.
/// </summary>
public static partial class CrossEntropy
{
    /// <summary>The reduced loss (Mean or Sum) of Half logits.</summary>
    /// <param name="logits">Logits [N, V] in Half.</param>
    /// <param name="targets">Targets [N]; V = logits.Length / N.</param>
    /// <param name="options">Options; Reduction.None throws.</param>
    public static unsafe float Loss(ReadOnlySpan<Half> logits, ReadOnlySpan<int> targets, CrossEntropyOptions? options = null)
    {
        fixed (Half* x = logits)
        {
            return (float)ClassIndexCall.Run(x, logits.Length, true, targets, options, CallKind.Loss);
        }
    }

    /// <summary>Per-row losses r [N] (in float) of Half logits; 0 for ignored rows.</summary>
    /// <param name="logits">Logits [N, V] in Half.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="losses">Destination r [N].</param>
    /// <param name="options">Options; Reduction is not used.</param>
    public static unsafe void LossPerRow(ReadOnlySpan<Half> logits, ReadOnlySpan<int> targets, Span<float> losses, CrossEntropyOptions? options = null)
    {
        fixed (Half* x = logits)
        {
            ClassIndexCall.Run(x, logits.Length, true, targets, options, CallKind.PerRow, losses: losses, lossesRequired: true);
        }
    }

    /// <summary>
    /// The reduced loss of Half logits, and its gradient [N, V] in Half (computed in float, p - 1 at the target
    /// in double, then rounded once).
    /// </summary>
    /// <param name="logits">Logits [N, V] in Half.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="gradient">Destination [N, V] in Half; may be exactly the logits' memory (in place).</param>
    /// <param name="options">Options; Reduction Mean or Sum.</param>
    public static unsafe float LossAndGradient(ReadOnlySpan<Half> logits, ReadOnlySpan<int> targets, Span<Half> gradient, CrossEntropyOptions? options = null)
    {
        fixed (Half* x = logits)
        fixed (Half* g = gradient)
        {
            return (float)ClassIndexCall.Run(x, logits.Length, true, targets, options, CallKind.LossAndGradient, gradient: g, gradientLength: gradient.Length);
        }
    }

    /// <summary>The reduced loss (Mean or Sum) of Half logits with its cross-entropy and z-loss parts.</summary>
    /// <param name="logits">Logits [N, V] in Half.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="options">Options; Reduction.None throws.</param>
    /// <returns>The loss (bitwise as <c>Loss</c>) and its parts.</returns>
    public static unsafe LossParts LossWithParts(ReadOnlySpan<Half> logits, ReadOnlySpan<int> targets, CrossEntropyOptions? options = null)
    {
        LossParts parts = default;
        fixed (Half* x = logits)
        {
            ClassIndexCall.Run(x, logits.Length, true, targets, options, CallKind.Loss, parts: &parts);
        }

        return parts;
    }

    /// <summary>Per-row losses r [N] and log-sum-exp lse [N] (in float) of Half logits.</summary>
    /// <param name="logits">Logits [N, V] in Half.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="losses">Destination r [N] (0 for ignored rows).</param>
    /// <param name="logSumExp">Destination lse [N], for every row.</param>
    /// <param name="options">Options; Reduction is not used.</param>
    public static unsafe void LossPerRow(ReadOnlySpan<Half> logits, ReadOnlySpan<int> targets, Span<float> losses, Span<float> logSumExp, CrossEntropyOptions? options = null)
    {
        fixed (Half* x = logits)
        {
            ClassIndexCall.Run(x, logits.Length, true, targets, options, CallKind.PerRow, losses: losses, lossesRequired: true, logSumExp: logSumExp, logSumExpRequired: true);
        }
    }

    /// <summary>
    /// The reduced loss of Half logits, and upstream x its gradient [N, V] in Half (rounded once from float);
    /// optionally the per-row log-sum-exp, and the caller's dL/dlse folded in.
    /// </summary>
    /// <param name="logits">Logits [N, V] in Half.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="gradient">Destination [N, V] in Half; may be exactly the logits' memory (in place).</param>
    /// <param name="upstream">Upstream gradient g of the loss; the returned loss is not scaled.</param>
    /// <param name="logSumExp">Destination lse [N], or empty for none.</param>
    /// <param name="options">Options; Reduction Mean or Sum.</param>
    /// <param name="logSumExpGradient">The caller's dL/dlse [N], or empty, as for float logits.</param>
    /// <returns>The loss.</returns>
    public static unsafe float LossAndGradient(ReadOnlySpan<Half> logits, ReadOnlySpan<int> targets, Span<Half> gradient, float upstream, Span<float> logSumExp = default,
        CrossEntropyOptions? options = null, ReadOnlySpan<float> logSumExpGradient = default)
    {
        fixed (Half* x = logits)
        fixed (Half* g = gradient)
        {
            return (float)ClassIndexCall.Run(x, logits.Length, true, targets, options, CallKind.LossAndGradient,
                logSumExp: logSumExp, gradient: g, gradientLength: gradient.Length, upstream: upstream, logSumExpUpstream: logSumExpGradient);
        }
    }

    /// <summary>The backward of Half per-row losses: gradient [N, V] in Half = d(sum_n g[n] r[n]) / d(logits).</summary>
    /// <param name="logits">Logits [N, V] in Half.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="upstream">Upstream gradients g [N].</param>
    /// <param name="gradient">Destination [N, V] in Half; may be exactly the logits' memory (in place).</param>
    /// <param name="options">Options; Reduction is not used.</param>
    /// <param name="logSumExpGradient">The caller's dL/dlse [N], or empty, as for float logits.</param>
    public static unsafe void Gradient(ReadOnlySpan<Half> logits, ReadOnlySpan<int> targets, ReadOnlySpan<float> upstream, Span<Half> gradient, CrossEntropyOptions? options = null,
        ReadOnlySpan<float> logSumExpGradient = default)
    {
        fixed (Half* x = logits)
        fixed (Half* g = gradient)
        {
            ClassIndexCall.Run(x, logits.Length, true, targets, options, CallKind.Backward, gradient: g, gradientLength: gradient.Length, rowUpstream: upstream,
                logSumExpUpstream: logSumExpGradient);
        }
    }

    /// <summary>Per-row log-sum-exp lse[n] (in float) of Half logits.</summary>
    /// <param name="logits">Logits [N, V] in Half; N = destination.Length.</param>
    /// <param name="destination">Destination lse [N].</param>
    /// <param name="softCap">Soft cap s (0 = off).</param>
    public static unsafe void LogSumExp(ReadOnlySpan<Half> logits, Span<float> destination, float softCap = 0f)
    {
        fixed (Half* x = logits)
        {
            ClassIndexCall.LogSumExp(x, logits.Length, true, destination, softCap);
        }
    }
}
