using Xent.Reference;

namespace Xent;

/// <summary>
/// Cross-entropy of next-token prediction over a logits matrix, and its gradient.
/// Shapes: N rows (tokens, batch x sequence flattened), V classes (vocabulary); logits [N, V] row-major.
/// </summary>
/// <remarks>PLACEHOLDER: delegates to the float64 reference until the fast kernel lands (issue 2).</remarks>
public static class CrossEntropy
{
    /// <summary>The reduced loss (Mean or Sum).</summary>
    /// <param name="logits">Logits [N, V] row-major.</param>
    /// <param name="targets">Targets [N]: class indices in [0, V) or the ignore index. V = logits.Length / N.</param>
    /// <param name="options">Options; null for PyTorch's defaults. Reduction.None throws: use <see cref="LossPerRow"/>.</param>
    public static float Loss(ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, CrossEntropyOptions? options = null)
    {
        var o = options ?? CrossEntropyOptions.Default;
        if (o.Reduction == Reduction.None)
        {
            throw new ArgumentException("Reduction.None has no single loss: call LossPerRow.", nameof(options));
        }

        return (float)CrossEntropyReference.Loss(logits, targets, o);
    }

    /// <summary>Per-row losses r [N] (0 for ignored rows); options.Reduction is not used.</summary>
    /// <param name="logits">Logits [N, V].</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="losses">Destination [N].</param>
    /// <param name="options">Options.</param>
    public static void LossPerRow(ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, Span<float> losses, CrossEntropyOptions? options = null)
    {
        CrossEntropyChecks.Destination(losses.Length, targets.Length, nameof(losses));
        var r = CrossEntropyReference.RowLosses(logits, targets, options);
        for (int i = 0; i < r.Length; i++)
        {
            losses[i] = (float)r[i];
        }
    }

    /// <summary>The reduced loss, and d(loss)/d(logits) into gradient [N, V], which may be the logits' own memory.</summary>
    /// <param name="logits">Logits [N, V].</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="gradient">Destination [N, V]; may overlap the logits exactly (in place).</param>
    /// <param name="options">Options.</param>
    public static float LossAndGradient(ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, Span<float> gradient, CrossEntropyOptions? options = null)
    {
        CrossEntropyChecks.Destination(gradient.Length, logits.Length, nameof(gradient));
        float loss = Loss(logits, targets, options);
        var g = CrossEntropyReference.Gradient(logits, targets, options);
        for (int i = 0; i < g.Length; i++)
        {
            gradient[i] = (float)g[i];
        }

        return loss;
    }
}
