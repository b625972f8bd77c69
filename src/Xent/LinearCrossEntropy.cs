using Xent.LinearAlgebra;

namespace Xent;

/// <summary>
/// Fused projection + cross-entropy: the loss of logits z = h W^T without holding z.
/// Shapes: N tokens, D hidden size, V classes. hidden [N, D], weight [V, D] (row c is class c), targets [N].
/// </summary>
/// <remarks>PLACEHOLDER: materialises the logits until the fused kernel lands (issue 3).</remarks>
public static class LinearCrossEntropy
{
    /// <summary>The reduced loss of logits hidden * weight^T.</summary>
    /// <param name="hidden">Hidden states h [N, D]; D = hidden.Length / N.</param>
    /// <param name="weight">Unembedding W [V, D]; V = weight.Length / D.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="options">Options, as <see cref="CrossEntropy"/>.</param>
    public static float Loss(ReadOnlySpan<float> hidden, ReadOnlySpan<float> weight, ReadOnlySpan<int> targets, CrossEntropyOptions? options = null)
    {
        int n = targets.Length, d = hidden.Length / n, v = weight.Length / d;
        var logits = new float[n * v];
        MatMul.Gemm(false, true, n, v, d, 1, hidden, d, weight, d, 0, logits, v);
        return CrossEntropy.Loss(logits, targets, options);
    }

    /// <summary>The loss, and gradients dHidden [N, D] and dWeight [V, D] (overwritten, not accumulated).</summary>
    /// <param name="hidden">Hidden states h [N, D].</param>
    /// <param name="weight">Unembedding W [V, D].</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="dHidden">Destination dL/dh [N, D].</param>
    /// <param name="dWeight">Destination dL/dW [V, D].</param>
    /// <param name="options">Options, as <see cref="CrossEntropy"/>.</param>
    public static float LossAndGradients(ReadOnlySpan<float> hidden, ReadOnlySpan<float> weight, ReadOnlySpan<int> targets,
        Span<float> dHidden, Span<float> dWeight, CrossEntropyOptions? options = null)
    {
        int n = targets.Length, d = hidden.Length / n, v = weight.Length / d;
        var logits = new float[n * v];
        MatMul.Gemm(false, true, n, v, d, 1, hidden, d, weight, d, 0, logits, v);
        float loss = CrossEntropy.LossAndGradient(logits, targets, logits, options);
        MatMul.Gemm(false, false, n, d, v, 1, logits, v, weight, d, 0, dHidden, d);
        MatMul.Gemm(true, false, v, d, n, 1, logits, v, hidden, d, 0, dWeight, d);
        return loss;
    }
}
