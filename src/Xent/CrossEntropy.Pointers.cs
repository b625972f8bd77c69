namespace Xent;

/// <summary>
/// Logits of more than 2^31 elements (8192 x 262144 floats is a real case), given by address and 64-bit length:
/// memory-mapped files, native buffers. The same kernel as the span overloads; rows are addressed with 64-bit
/// offsets and each row (V &lt;= int.MaxValue) is a span.
/// </summary>
public static partial class CrossEntropy
{
    /// <summary>The reduced loss (Mean or Sum) of logits at an address.</summary>
    /// <param name="logits">Logits [N, V], logitsLength floats, row-major; must stay valid and unchanged during the call.</param>
    /// <param name="logitsLength">N x V.</param>
    /// <param name="targets">Targets [N]; V = logitsLength / N.</param>
    /// <param name="options">Options; Reduction.None throws.</param>
    public static unsafe float Loss(float* logits, long logitsLength, ReadOnlySpan<int> targets, CrossEntropyOptions? options = null)
    {
        CheckAddress(logits, logitsLength, nameof(logits), nameof(logitsLength));
        return (float)ClassIndexCall.Run(logits, logitsLength, false, targets, options, CallKind.Loss);
    }

    /// <summary>Per-row losses r [N] of logits at an address; 0 for ignored rows.</summary>
    /// <param name="logits">Logits [N, V], logitsLength floats.</param>
    /// <param name="logitsLength">N x V.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="losses">Destination r [N].</param>
    /// <param name="options">Options; Reduction is not used.</param>
    public static unsafe void LossPerRow(float* logits, long logitsLength, ReadOnlySpan<int> targets, Span<float> losses, CrossEntropyOptions? options = null)
    {
        CheckAddress(logits, logitsLength, nameof(logits), nameof(logitsLength));
        ClassIndexCall.Run(logits, logitsLength, false, targets, options, CallKind.PerRow, losses: losses, lossesRequired: true);
    }

    /// <summary>The reduced loss, and its gradient [N, V] written at an address (may equal <paramref name="logits"/>: in place).</summary>
    /// <param name="logits">Logits [N, V], logitsLength floats.</param>
    /// <param name="logitsLength">N x V.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="gradient">Destination [N, V]: the logits' own address, or memory not overlapping them.</param>
    /// <param name="gradientLength">Elements available at <paramref name="gradient"/> (at least N x V).</param>
    /// <param name="options">Options; Reduction Mean or Sum.</param>
    public static unsafe float LossAndGradient(float* logits, long logitsLength, ReadOnlySpan<int> targets, float* gradient, long gradientLength, CrossEntropyOptions? options = null)
    {
        CheckAddress(logits, logitsLength, nameof(logits), nameof(logitsLength));
        CheckAddress(gradient, gradientLength, nameof(gradient), nameof(gradientLength));

        return (float)ClassIndexCall.Run(logits, logitsLength, false, targets, options, CallKind.LossAndGradient, gradient: gradient, gradientLength: gradientLength);
    }

    /// <summary>The reduced loss (Mean or Sum) of logits at an address, with its cross-entropy and z-loss parts.</summary>
    /// <param name="logits">Logits [N, V], logitsLength floats.</param>
    /// <param name="logitsLength">N x V.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="options">Options; Reduction.None throws.</param>
    /// <returns>The loss (bitwise as <c>Loss</c>) and its parts.</returns>
    public static unsafe LossParts LossWithParts(float* logits, long logitsLength, ReadOnlySpan<int> targets, CrossEntropyOptions? options = null)
    {
        CheckAddress(logits, logitsLength, nameof(logits), nameof(logitsLength));
        LossParts parts = default;
        ClassIndexCall.Run(logits, logitsLength, false, targets, options, CallKind.Loss, parts: &parts);
        return parts;
    }

    /// <summary>Per-row losses r [N] and log-sum-exp lse [N] of logits at an address.</summary>
    /// <param name="logits">Logits [N, V], logitsLength floats.</param>
    /// <param name="logitsLength">N x V.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="losses">Destination r [N] (0 for ignored rows).</param>
    /// <param name="logSumExp">Destination lse [N], for every row.</param>
    /// <param name="options">Options; Reduction is not used.</param>
    public static unsafe void LossPerRow(float* logits, long logitsLength, ReadOnlySpan<int> targets, Span<float> losses, Span<float> logSumExp, CrossEntropyOptions? options = null)
    {
        CheckAddress(logits, logitsLength, nameof(logits), nameof(logitsLength));
        ClassIndexCall.Run(logits, logitsLength, false, targets, options, CallKind.PerRow, losses: losses, lossesRequired: true, logSumExp: logSumExp, logSumExpRequired: true);
    }

    /// <summary>
    /// The reduced loss, and upstream x its gradient [N, V] written at an address (may equal <paramref name="logits"/>);
    /// optionally the per-row log-sum-exp, and the caller's dL/dlse folded in.
    /// </summary>
    /// <param name="logits">Logits [N, V], logitsLength floats.</param>
    /// <param name="logitsLength">N x V.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="gradient">Destination [N, V]: the logits' own address, or memory not overlapping them.</param>
    /// <param name="gradientLength">Elements available at <paramref name="gradient"/> (at least N x V).</param>
    /// <param name="upstream">Upstream gradient g of the loss; the returned loss is not scaled.</param>
    /// <param name="logSumExp">Destination lse [N], or empty for none.</param>
    /// <param name="options">Options; Reduction Mean or Sum.</param>
    /// <param name="logSumExpGradient">The caller's dL/dlse [N], or empty, as the span overload.</param>
    /// <returns>The loss.</returns>
    public static unsafe float LossAndGradient(float* logits, long logitsLength, ReadOnlySpan<int> targets, float* gradient, long gradientLength, float upstream,
        Span<float> logSumExp = default, CrossEntropyOptions? options = null, ReadOnlySpan<float> logSumExpGradient = default)
    {
        CheckAddress(logits, logitsLength, nameof(logits), nameof(logitsLength));
        CheckAddress(gradient, gradientLength, nameof(gradient), nameof(gradientLength));
        return (float)ClassIndexCall.Run(logits, logitsLength, false, targets, options, CallKind.LossAndGradient, logSumExp: logSumExp,
            gradient: gradient, gradientLength: gradientLength, upstream: upstream, logSumExpUpstream: logSumExpGradient);
    }

    /// <summary>The backward of per-row losses of logits at an address: gradient [N, V] = d(sum_n g[n] r[n]) / d(logits).</summary>
    /// <param name="logits">Logits [N, V], logitsLength floats.</param>
    /// <param name="logitsLength">N x V.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="upstream">Upstream gradients g [N].</param>
    /// <param name="gradient">Destination [N, V]: the logits' own address, or memory not overlapping them.</param>
    /// <param name="gradientLength">Elements available at <paramref name="gradient"/> (at least N x V).</param>
    /// <param name="options">Options; Reduction is not used.</param>
    /// <param name="logSumExpGradient">The caller's dL/dlse [N], or empty, as the span overload.</param>
    public static unsafe void Gradient(float* logits, long logitsLength, ReadOnlySpan<int> targets, ReadOnlySpan<float> upstream, float* gradient, long gradientLength,
        CrossEntropyOptions? options = null, ReadOnlySpan<float> logSumExpGradient = default)
    {
        CheckAddress(logits, logitsLength, nameof(logits), nameof(logitsLength));
        CheckAddress(gradient, gradientLength, nameof(gradient), nameof(gradientLength));
        ClassIndexCall.Run(logits, logitsLength, false, targets, options, CallKind.Backward, gradient: gradient, gradientLength: gradientLength,
            rowUpstream: upstream, logSumExpUpstream: logSumExpGradient);
    }

    /// <summary>Per-row log-sum-exp lse[n] of logits at an address.</summary>
    /// <param name="logits">Logits [N, V], logitsLength floats; N = destination.Length.</param>
    /// <param name="logitsLength">N x V.</param>
    /// <param name="destination">Destination lse [N].</param>
    /// <param name="softCap">Soft cap s (0 = off).</param>
    public static unsafe void LogSumExp(float* logits, long logitsLength, Span<float> destination, float softCap = 0f)
    {
        CheckAddress(logits, logitsLength, nameof(logits), nameof(logitsLength));
        ClassIndexCall.LogSumExp(logits, logitsLength, false, destination, softCap);
    }

    // The length's name is passed, not built: a name + "Length" was 48 bytes of garbage a call.
    private static unsafe void CheckAddress(float* address, long length, string name, string lengthName)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length, lengthName);
        if (address == null && length > 0)
        {
            throw new ArgumentNullException(name, $"A null address with {length} elements.");
        }
    }
}
