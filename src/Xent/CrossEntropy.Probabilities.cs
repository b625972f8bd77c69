namespace Xent;

/// <summary>
/// Probability (soft) targets t [N, V]: each row a distribution over the classes (distillation, mixup).
/// Label smoothing mixes it with the uniform distribution; there is no ignore index; Mean divides by N.
/// </summary>
public static partial class CrossEntropy
{
    /// <summary>The reduced loss (Mean over N, or Sum) for probability targets.</summary>
    /// <param name="logits">Logits [N, V].</param>
    /// <param name="targetProbabilities">Target distributions t [N, V].</param>
    /// <param name="classes">V (N = logits.Length / V).</param>
    /// <param name="options">Options; IgnoreIndex is not used; Reduction.None throws.</param>
    public static unsafe float Loss(ReadOnlySpan<float> logits, ReadOnlySpan<float> targetProbabilities, int classes, CrossEntropyOptions? options = null)
    {
        fixed (float* x = logits)
        {
            return (float)ProbabilityCall.Run(x, logits.Length, targetProbabilities, classes, options, CallKind.Loss);
        }
    }

    /// <summary>Per-row losses r [N] for probability targets.</summary>
    /// <param name="logits">Logits [N, V].</param>
    /// <param name="targetProbabilities">Target distributions t [N, V].</param>
    /// <param name="classes">V.</param>
    /// <param name="losses">Destination r [N].</param>
    /// <param name="options">Options; Reduction and IgnoreIndex are not used.</param>
    public static unsafe void LossPerRow(ReadOnlySpan<float> logits, ReadOnlySpan<float> targetProbabilities, int classes, Span<float> losses, CrossEntropyOptions? options = null)
    {
        fixed (float* x = logits)
        {
            ProbabilityCall.Run(x, logits.Length, targetProbabilities, classes, options, CallKind.PerRow, losses: losses);
        }
    }

    /// <summary>The reduced loss for probability targets, and its gradient [N, V].</summary>
    /// <param name="logits">Logits [N, V].</param>
    /// <param name="targetProbabilities">Target distributions t [N, V].</param>
    /// <param name="classes">V.</param>
    /// <param name="gradient">Destination [N, V]; may be exactly the logits' memory (in place).</param>
    /// <param name="options">Options; Reduction Mean or Sum.</param>
    public static unsafe float LossAndGradient(ReadOnlySpan<float> logits, ReadOnlySpan<float> targetProbabilities, int classes, Span<float> gradient, CrossEntropyOptions? options = null)
    {
        fixed (float* x = logits)
        fixed (float* g = gradient)
        {
            return (float)ProbabilityCall.Run(x, logits.Length, targetProbabilities, classes, options, CallKind.LossAndGradient, gradient: g, gradientLength: gradient.Length);
        }
    }
}
