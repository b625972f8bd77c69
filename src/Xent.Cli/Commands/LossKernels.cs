using Xent.Cli.IO;

namespace Xent.Cli.Commands;

/// <summary>
/// The one place where <c>xent loss</c> calls the library, on logits in unmanaged memory (a mapped file or a
/// converted buffer): the pointer overloads for float32 (any size, also over 2^31 elements), and the Half and
/// BFloat16 overloads for float16 and bfloat16 read in place.
/// </summary>
internal static unsafe class LossKernels
{
    /// <summary>The gradient's element type: the logits' own for float16 (as PyTorch), float32 otherwise.</summary>
    public static ElementType GradientType(ArrayInfo logits) =>
        logits.Type == ElementType.Float16 ? ElementType.Float16 : ElementType.Float32;

    public static float Loss(LogitsData logits, ReadOnlySpan<int> targets, CrossEntropyOptions options) =>
        logits.IsHalf ? CrossEntropy.Loss(logits.Halves, targets, options)
        : logits.IsBFloat16 ? CrossEntropy.Loss(logits.BFloat16s, targets, options)
        : CrossEntropy.Loss(logits.Floats, logits.Length, targets, options);

    public static void LossPerRow(LogitsData logits, ReadOnlySpan<int> targets, Span<float> losses, CrossEntropyOptions options)
    {
        if (logits.IsHalf)
        {
            CrossEntropy.LossPerRow(logits.Halves, targets, losses, options);
        }
        else if (logits.IsBFloat16)
        {
            CrossEntropy.LossPerRow(logits.BFloat16s, targets, losses, options);
        }
        else
        {
            CrossEntropy.LossPerRow(logits.Floats, logits.Length, targets, losses, options);
        }
    }

    /// <summary>
    /// The loss, and the gradient written into <paramref name="gradient"/> (of <see cref="GradientType"/>).
    /// Call it last: float16 logits too large for the Half overloads get their gradient in place in the
    /// converted float32 copy (then rounded to float16), which overwrites the logits.
    /// </summary>
    public static float LossAndGradient(LogitsData logits, ReadOnlySpan<int> targets, NpyOutput gradient, CrossEntropyOptions options)
    {
        if (logits.IsHalf)
        {
            return CrossEntropy.LossAndGradient(logits.Halves, targets, new Span<Half>(gradient.Data, checked((int)gradient.Count)), options);
        }

        if (logits.IsBFloat16)
        {
            return CrossEntropy.LossAndGradient(logits.BFloat16s, targets, new Span<float>(gradient.Data, checked((int)gradient.Count)), options: options);
        }

        if (GradientType(logits.Info) == ElementType.Float32)
        {
            return CrossEntropy.LossAndGradient(logits.Floats, logits.Length, targets, (float*)gradient.Data, gradient.Count, options);
        }

        // float16 beyond 2^31 elements: rounded twice (float32, then float16) instead of once; a rare last-bit difference.
        float loss = CrossEntropy.LossAndGradient(logits.Floats, logits.Length, targets, logits.Floats, logits.Length, options);
        LogitsData.ToHalf(logits.Floats, (Half*)gradient.Data, logits.Length);
        return loss;
    }
}
