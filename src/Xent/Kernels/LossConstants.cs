namespace Xent.Kernels;

/// <summary>
/// The per-call constants of docs/spec/cross-entropy.md that every class-index formula reads: label smoothing e,
/// the class count C, W = sum_c w[c], the z-loss coefficient l and the soft cap s (0 = off).
/// </summary>
internal readonly record struct LossConstants(double Smoothing, int Classes, double WeightTotal, double ZLoss, float Cap)
{
    /// <summary>e / C: the smoothing term's share of each class.</summary>
    public double PerClass => Smoothing / Classes;

    /// <summary>The constants of a call with these options over C classes; W summed from the weights [C] (empty: all 1).</summary>
    public static LossConstants Of(float smoothing, int classes, ReadOnlySpan<float> weights, float zLoss, float cap) =>
        new(smoothing, classes, SumOfWeights(weights, classes), zLoss, cap);

    /// <summary>W = sum_c w[c] in double, left to right (C when there are no weights).</summary>
    public static double SumOfWeights(ReadOnlySpan<float> weights, int classes)
    {
        if (weights.IsEmpty)
        {
            return classes;
        }

        double sum = 0;
        foreach (float w in weights)
        {
            sum += w;
        }

        return sum;
    }
}
