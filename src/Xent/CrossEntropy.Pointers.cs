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
        CheckAddress(logits, logitsLength, nameof(logits));
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
        CheckAddress(logits, logitsLength, nameof(logits));
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
        CheckAddress(logits, logitsLength, nameof(logits));
        CheckAddress(gradient, gradientLength, nameof(gradient));

        return (float)ClassIndexCall.Run(logits, logitsLength, false, targets, options, CallKind.LossAndGradient, gradient: gradient, gradientLength: gradientLength);
    }

    private static unsafe void CheckAddress(float* address, long length, string name)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length, name + "Length");
        if (address == null && length > 0)
        {
            throw new ArgumentNullException(name, $"A null address with {length} elements.");
        }
    }
}
