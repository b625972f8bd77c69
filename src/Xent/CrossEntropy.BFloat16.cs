using Xent.Kernels;

namespace Xent;

/// <summary>
/// bfloat16 logits: widened to float as they are read (exact), computed exactly as float logits are (float lanes,
/// double row states and reduction), the gradient written as float or rounded to bfloat16 once. The result is the
/// float result of the bfloat16 values, not PyTorch's CPU bfloat16 <c>cross_entropy</c>, which also rounds its
/// intermediate results to bfloat16.
/// </summary>
public static partial class CrossEntropy
{
    private static readonly ElementKinds BFloat16Both = new(ElementKind.BFloat16, ElementKind.BFloat16);
    private static readonly ElementKinds BFloat16ToSingle = new(ElementKind.BFloat16, ElementKind.Single);

    /// <summary>The reduced loss (Mean or Sum) of bfloat16 logits.</summary>
    /// <param name="logits">Logits [N, V] in bfloat16.</param>
    /// <param name="targets">Targets [N]; V = logits.Length / N.</param>
    /// <param name="options">Options; Reduction.None throws.</param>
    /// <returns>The loss; bitwise the same for a row alone or in any batch, at any position and thread count (Sum).</returns>
    public static unsafe float Loss(ReadOnlySpan<BFloat16> logits, ReadOnlySpan<int> targets, CrossEntropyOptions? options = null)
    {
        fixed (BFloat16* x = logits)
        {
            return (float)ClassIndexCall.Run(x, logits.Length, BFloat16Both, targets, options, CallKind.Loss);
        }
    }

    /// <summary>The reduced loss (Mean or Sum) of bfloat16 logits with its cross-entropy and z-loss parts.</summary>
    /// <param name="logits">Logits [N, V] in bfloat16.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="options">Options; Reduction.None throws.</param>
    /// <returns>The loss (bitwise as <c>Loss</c>) and its parts.</returns>
    public static unsafe LossParts LossWithParts(ReadOnlySpan<BFloat16> logits, ReadOnlySpan<int> targets, CrossEntropyOptions? options = null)
    {
        LossParts parts = default;
        fixed (BFloat16* x = logits)
        {
            ClassIndexCall.Run(x, logits.Length, BFloat16Both, targets, options, CallKind.Loss, parts: &parts);
        }

        return parts;
    }

    /// <summary>Per-row losses r [N] (in float) of bfloat16 logits; 0 for ignored rows.</summary>
    /// <param name="logits">Logits [N, V] in bfloat16.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="losses">Destination r [N].</param>
    /// <param name="options">Options; Reduction is not used.</param>
    public static unsafe void LossPerRow(ReadOnlySpan<BFloat16> logits, ReadOnlySpan<int> targets, Span<float> losses, CrossEntropyOptions? options = null)
    {
        fixed (BFloat16* x = logits)
        {
            ClassIndexCall.Run(x, logits.Length, BFloat16Both, targets, options, CallKind.PerRow, losses: losses, lossesRequired: true);
        }
    }

    /// <summary>Per-row losses r [N] and log-sum-exp lse [N] (in float) of bfloat16 logits.</summary>
    /// <param name="logits">Logits [N, V] in bfloat16.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="losses">Destination r [N] (0 for ignored rows).</param>
    /// <param name="logSumExp">Destination lse [N], for every row.</param>
    /// <param name="options">Options; Reduction is not used.</param>
    public static unsafe void LossPerRow(ReadOnlySpan<BFloat16> logits, ReadOnlySpan<int> targets, Span<float> losses, Span<float> logSumExp, CrossEntropyOptions? options = null)
    {
        fixed (BFloat16* x = logits)
        {
            ClassIndexCall.Run(x, logits.Length, BFloat16Both, targets, options, CallKind.PerRow, losses: losses, lossesRequired: true, logSumExp: logSumExp, logSumExpRequired: true);
        }
    }

    /// <summary>
    /// The reduced loss of bfloat16 logits, and its gradient [N, V] rounded to bfloat16 once from float (p - 1 at
    /// the target from double).
    /// </summary>
    /// <param name="logits">Logits [N, V] in bfloat16.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="gradient">Destination [N, V] in bfloat16; may be exactly the logits' memory (in place).</param>
    /// <param name="options">Options; Reduction Mean or Sum.</param>
    public static unsafe float LossAndGradient(ReadOnlySpan<BFloat16> logits, ReadOnlySpan<int> targets, Span<BFloat16> gradient, CrossEntropyOptions? options = null)
    {
        fixed (BFloat16* x = logits)
        fixed (BFloat16* g = gradient)
        {
            return (float)ClassIndexCall.Run(x, logits.Length, BFloat16Both, targets, options, CallKind.LossAndGradient, gradient: g, gradientLength: gradient.Length);
        }
    }

    /// <summary>
    /// The reduced loss of bfloat16 logits, and upstream x its gradient [N, V] rounded to bfloat16 once from float;
    /// optionally the per-row log-sum-exp, and the caller's dL/dlse folded in.
    /// </summary>
    /// <param name="logits">Logits [N, V] in bfloat16.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="gradient">Destination [N, V] in bfloat16; may be exactly the logits' memory (in place).</param>
    /// <param name="upstream">Upstream gradient g of the loss; the returned loss is not scaled.</param>
    /// <param name="logSumExp">Destination lse [N], or empty for none.</param>
    /// <param name="options">Options; Reduction Mean or Sum.</param>
    /// <param name="logSumExpGradient">The caller's dL/dlse [N], or empty, as for float logits.</param>
    /// <returns>The loss.</returns>
    public static unsafe float LossAndGradient(ReadOnlySpan<BFloat16> logits, ReadOnlySpan<int> targets, Span<BFloat16> gradient, float upstream, Span<float> logSumExp = default,
        CrossEntropyOptions? options = null, ReadOnlySpan<float> logSumExpGradient = default)
    {
        fixed (BFloat16* x = logits)
        fixed (BFloat16* g = gradient)
        {
            return (float)ClassIndexCall.Run(x, logits.Length, BFloat16Both, targets, options, CallKind.LossAndGradient,
                logSumExp: logSumExp, gradient: g, gradientLength: gradient.Length, upstream: upstream, logSumExpUpstream: logSumExpGradient);
        }
    }

    /// <summary>
    /// The reduced loss of bfloat16 logits, and upstream x its gradient [N, V] in float (for a caller that accumulates
    /// gradients in float: nothing is rounded to bfloat16).
    /// </summary>
    /// <param name="logits">Logits [N, V] in bfloat16.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="gradient">Destination [N, V] in float; must not overlap the logits.</param>
    /// <param name="upstream">Upstream gradient g of the loss; 1 for a plain loss. The returned loss is not scaled.</param>
    /// <param name="logSumExp">Destination lse [N], or empty for none.</param>
    /// <param name="options">Options; Reduction Mean or Sum.</param>
    /// <param name="logSumExpGradient">The caller's dL/dlse [N], or empty, as for float logits.</param>
    public static unsafe float LossAndGradient(ReadOnlySpan<BFloat16> logits, ReadOnlySpan<int> targets, Span<float> gradient, float upstream = 1f, Span<float> logSumExp = default, CrossEntropyOptions? options = null,
        ReadOnlySpan<float> logSumExpGradient = default)
    {
        fixed (BFloat16* x = logits)
        fixed (float* g = gradient)
        {
            return (float)ClassIndexCall.Run(x, logits.Length, BFloat16ToSingle, targets, options, CallKind.LossAndGradient,
                logSumExp: logSumExp, gradient: g, gradientLength: gradient.Length, upstream: upstream, logSumExpUpstream: logSumExpGradient);
        }
    }

    /// <summary>The backward of bfloat16 per-row losses: gradient [N, V] in float = d(sum_n g[n] r[n]) / d(logits).</summary>
    /// <param name="logits">Logits [N, V] in bfloat16.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="upstream">Upstream gradients g [N].</param>
    /// <param name="gradient">Destination [N, V] in float; must not overlap the logits.</param>
    /// <param name="options">Options; Reduction is not used.</param>
    /// <param name="logSumExpGradient">The caller's dL/dlse [N], or empty, as for float logits.</param>
    public static unsafe void Gradient(ReadOnlySpan<BFloat16> logits, ReadOnlySpan<int> targets, ReadOnlySpan<float> upstream, Span<float> gradient, CrossEntropyOptions? options = null,
        ReadOnlySpan<float> logSumExpGradient = default)
    {
        fixed (BFloat16* x = logits)
        fixed (float* g = gradient)
        {
            ClassIndexCall.Run(x, logits.Length, BFloat16ToSingle, targets, options, CallKind.Backward, gradient: g, gradientLength: gradient.Length, rowUpstream: upstream,
                logSumExpUpstream: logSumExpGradient);
        }
    }

    /// <summary>The backward of bfloat16 per-row losses: gradient [N, V] rounded to bfloat16 once from float.</summary>
    /// <param name="logits">Logits [N, V] in bfloat16.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="upstream">Upstream gradients g [N].</param>
    /// <param name="gradient">Destination [N, V] in bfloat16; may be exactly the logits' memory (in place).</param>
    /// <param name="options">Options; Reduction is not used.</param>
    /// <param name="logSumExpGradient">The caller's dL/dlse [N], or empty, as for float logits.</param>
    public static unsafe void Gradient(ReadOnlySpan<BFloat16> logits, ReadOnlySpan<int> targets, ReadOnlySpan<float> upstream, Span<BFloat16> gradient, CrossEntropyOptions? options = null,
        ReadOnlySpan<float> logSumExpGradient = default)
    {
        fixed (BFloat16* x = logits)
        fixed (BFloat16* g = gradient)
        {
            ClassIndexCall.Run(x, logits.Length, BFloat16Both, targets, options, CallKind.Backward, gradient: g, gradientLength: gradient.Length, rowUpstream: upstream,
                logSumExpUpstream: logSumExpGradient);
        }
    }

    /// <summary>Per-row log-sum-exp lse[n] (in float) of bfloat16 logits.</summary>
    /// <param name="logits">Logits [N, V] in bfloat16; N = destination.Length.</param>
    /// <param name="destination">Destination lse [N].</param>
    /// <param name="softCap">Soft cap s (0 = off).</param>
    public static unsafe void LogSumExp(ReadOnlySpan<BFloat16> logits, Span<float> destination, float softCap = 0f)
    {
        fixed (BFloat16* x = logits)
        {
            ClassIndexCall.LogSumExp(x, logits.Length, BFloat16Both, destination, softCap);
        }
    }
}
