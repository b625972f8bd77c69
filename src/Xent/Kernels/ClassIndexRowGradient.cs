namespace Xent.Kernels;

/// <summary>
/// The gradient of one kept class-index row (shared/spec/cross-entropy.md), from its scales (a for the
/// cross-entropy terms, b for z-loss), the options and its log-sum-exp: the per-column coefficients
/// dL/dz[c] = K p[c] - C1 w[c] (times the soft cap's factor) and, in double, the target column, where
/// p - 1 must not drown in the rounding of K p - K. One formula for the kernel and for sharded vocabularies.
/// </summary>
internal readonly record struct ClassIndexRowGradient(
    double A, double B, double Smoothing, int Classes, double WeightTotal, double TargetWeight, double ZLoss, double LogSumExp, float Cap)
{
    private double PerClass => Smoothing / Classes;

    // Absent, not 0 x inf, when the option is off.
    private double ZGradient => ZLoss > 0 ? 2.0 * B * ZLoss * LogSumExp : 0.0;

    public GradientCoefficients Coefficients() => new()
    {
        LogSumExp = (float)LogSumExp,
        K = (float)((A * (1 - Smoothing) * TargetWeight) + (Smoothing > 0 ? A * PerClass * WeightTotal : 0) + ZGradient),
        C1 = (float)(A * PerClass),
        InverseCap = Cap > 0f ? 1f / Cap : 0f,
    };

    /// <summary>dL/dz[y] in double; <paramref name="targetLogit"/> is the (soft-capped) z[y].</summary>
    public double Target(float targetLogit)
    {
        double p = Math.Exp(targetLogit - LogSumExp);
        double g = A * (1 - Smoothing) * TargetWeight * (p - 1);
        if (Smoothing > 0)
        {
            g += A * PerClass * ((WeightTotal * p) - TargetWeight);
        }

        g += ZGradient * p;
        if (Cap > 0f)
        {
            double u = targetLogit / (double)Cap;
            g *= 1 - (u * u);
        }

        return g;
    }
}
