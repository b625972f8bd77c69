namespace Xent.Optim;

/// <summary>Gradient-norm clipping over many tensors, like <c>torch.nn.utils.clip_grad_norm_</c>.</summary>
public static class GradientClipping
{
    /// <summary>
    /// The global L2 norm sqrt(sum of g^2 over every element of every tensor), accumulated in double in a fixed
    /// order (so the same for any thread count).
    /// </summary>
    /// <param name="gradients">Gradient tensors.</param>
    public static float GlobalNorm(IReadOnlyList<float[]> gradients)
    {
        ArgumentNullException.ThrowIfNull(gradients);
        double sum = 0;
        foreach (var g in gradients)
        {
            sum += SumOfSquares(g);
        }

        return (float)Math.Sqrt(sum);
    }

    /// <summary>
    /// Scales every gradient by maxNorm / (norm + 1e-6) when the global norm exceeds <paramref name="maxNorm"/>
    /// (PyTorch's formula); otherwise leaves them unchanged. A non-finite norm leaves them unchanged too, so the
    /// caller can detect it and skip the step.
    /// </summary>
    /// <param name="gradients">Gradient tensors, scaled in place.</param>
    /// <param name="maxNorm">Largest allowed global norm, &gt; 0.</param>
    /// <returns>The global norm before clipping.</returns>
    public static float ClipByGlobalNorm(IReadOnlyList<float[]> gradients, float maxNorm)
    {
        ArgumentNullException.ThrowIfNull(gradients);
        if (!(maxNorm > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "maxNorm must be > 0.");
        }

        float norm = GlobalNorm(gradients);
        if (norm > maxNorm && float.IsFinite(norm))
        {
            float scale = (float)(maxNorm / (norm + 1e-6));
            foreach (var g in gradients)
            {
                for (int i = 0; i < g.Length; i++)
                {
                    g[i] *= scale;
                }
            }
        }

        return norm;
    }

    private static double SumOfSquares(ReadOnlySpan<float> g)
    {
        // Four independent double accumulators: exact enough, and the fixed order keeps the result reproducible.
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = 0;
        for (; i + 4 <= g.Length; i += 4)
        {
            s0 += (double)g[i] * g[i];
            s1 += (double)g[i + 1] * g[i + 1];
            s2 += (double)g[i + 2] * g[i + 2];
            s3 += (double)g[i + 3] * g[i + 3];
        }

        for (; i < g.Length; i++)
        {
            s0 += (double)g[i] * g[i];
        }

        return (s0 + s1) + (s2 + s3);
    }
}
