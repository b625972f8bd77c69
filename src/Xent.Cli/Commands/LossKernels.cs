using Xent.Cli.IO;
using Xent.Cli.Terminal;

namespace Xent.Cli.Commands;

/// <summary>
/// The one place where <c>xent loss</c> calls the library, on logits in unmanaged memory (a mapped file or a
/// converted buffer). Arrays under 2^31 elements go through the span overloads.
/// </summary>
internal static unsafe class LossKernels
{
    public static float Loss(FloatData logits, ReadOnlySpan<int> targets, CrossEntropyOptions options)
    {
        RequireSpanSize(logits.Length);
        return CrossEntropy.Loss(logits.Span, targets, options);
    }

    public static void LossPerRow(FloatData logits, ReadOnlySpan<int> targets, Span<float> losses, CrossEntropyOptions options)
    {
        RequireSpanSize(logits.Length);
        CrossEntropy.LossPerRow(logits.Span, targets, losses, options);
    }

    public static float LossAndGradient(FloatData logits, ReadOnlySpan<int> targets, float* gradient, long gradientLength, CrossEntropyOptions options)
    {
        RequireSpanSize(logits.Length);
        return CrossEntropy.LossAndGradient(logits.Span, targets, new Span<float>(gradient, checked((int)gradientLength)), options);
    }

    private static void RequireSpanSize(long length)
    {
        if (length > int.MaxValue)
        {
            throw new XentCliException($"the logits hold {length} elements (over 2^31 - 1); this build of the Xent library has no pointer overloads for arrays that large.");
        }
    }
}
