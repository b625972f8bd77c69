namespace Xent;

/// <summary>Half-precision logits: read as Half, computed in float (double row states), gradient rounded to Half once.</summary>
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
}
