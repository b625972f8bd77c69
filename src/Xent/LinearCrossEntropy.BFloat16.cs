namespace Xent;

/// <summary>
/// bfloat16 hidden states and unembedding: widened to float (exact) and run through the float kernel, so products
/// accumulate in float and dh, dW come out in float, never accumulated in bfloat16.
/// </summary>
/// <remarks>
/// The widening is done once per call into float copies of h and W: 4 bytes per element of each, on top of the float
/// kernel's buffers (never anything N x V). Widening tile by tile inside the fused kernel would save that copy; it is
/// not done yet.
/// </remarks>
public static partial class LinearCrossEntropy
{
    /// <summary>The reduced loss (Mean or Sum) of logits hidden * weight^T, from bfloat16 inputs.</summary>
    /// <param name="hidden">Hidden states h [N, D] in bfloat16.</param>
    /// <param name="weight">Unembedding W [V, D] in bfloat16.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="options">Loss options; Reduction.None throws.</param>
    /// <returns>The loss of the bfloat16 values, computed in float.</returns>
    public static float Loss(ReadOnlySpan<BFloat16> hidden, ReadOnlySpan<BFloat16> weight, ReadOnlySpan<int> targets, CrossEntropyOptions? options = null) =>
        Loss(Widen(hidden), Widen(weight), targets, options);

    /// <summary>The loss and its float gradients (dL/dh [N, D], dL/dW [V, D], dL/db [V] when asked), from bfloat16 inputs.</summary>
    /// <param name="hidden">Hidden states h [N, D] in bfloat16.</param>
    /// <param name="weight">Unembedding W [V, D] in bfloat16.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="gradients">Where the float gradients go.</param>
    /// <param name="options">Options; Reduction.None throws.</param>
    /// <returns>The loss.</returns>
    public static float LossAndGradients(ReadOnlySpan<BFloat16> hidden, ReadOnlySpan<BFloat16> weight, ReadOnlySpan<int> targets,
        LinearCrossEntropyGradients gradients, LinearCrossEntropyOptions? options = null) =>
        LossAndGradients(Widen(hidden), Widen(weight), targets, gradients, options);

    private static float[] Widen(ReadOnlySpan<BFloat16> values)
    {
        var wide = GC.AllocateUninitializedArray<float>(values.Length);
        BFloat16.ConvertToSingle(values, wide);
        return wide;
    }
}
