using Xent.Cli.IO;
using Xent.Cli.Terminal;

namespace Xent.Cli.Commands;

/// <summary>
/// The one place where <c>xent loss</c> calls the library, on logits in unmanaged memory (a mapped file or a
/// converted buffer). Arrays under 2^31 elements go through the span overloads; larger ones through the
/// library's pointer overloads (see <see cref="PointerOverloads"/>).
/// </summary>
internal static unsafe class LossKernels
{
    /// <summary>Size above which the pointer overloads are used; internal so tests can force that path on small arrays.</summary>
    internal static long SpanLimit { get; set; } = int.MaxValue;

    public static float Loss(FloatData logits, ReadOnlySpan<int> targets, CrossEntropyOptions options) =>
        logits.Length <= SpanLimit
            ? CrossEntropy.Loss(logits.Span, targets, options)
            : Large(logits).Loss(logits.Pointer, logits.Length, targets, options);

    public static void LossPerRow(FloatData logits, ReadOnlySpan<int> targets, Span<float> losses, CrossEntropyOptions options)
    {
        if (logits.Length <= SpanLimit)
        {
            CrossEntropy.LossPerRow(logits.Span, targets, losses, options);
        }
        else
        {
            Large(logits).LossPerRow(logits.Pointer, logits.Length, targets, losses, options);
        }
    }

    public static float LossAndGradient(FloatData logits, ReadOnlySpan<int> targets, float* gradient, long gradientLength, CrossEntropyOptions options) =>
        logits.Length <= SpanLimit
            ? CrossEntropy.LossAndGradient(logits.Span, targets, new Span<float>(gradient, checked((int)gradientLength)), options)
            : Large(logits).LossAndGradient(logits.Pointer, logits.Length, targets, gradient, gradientLength, options);

    private static PointerOverloads Large(FloatData logits) => PointerOverloads.Library
        ?? throw XentCliException.InFile(logits.Info.Path, $"the logits hold {logits.Length} elements (over 2^31 - 1); this build of the Xent library has no pointer overloads for arrays that large.");
}
