using System.Runtime.CompilerServices;

namespace Xent.Kernels;

/// <summary>
/// The gradient of one kept class-index row (docs/spec/cross-entropy.md), from the call's constants, the row's
/// scales (a for the cross-entropy terms, b for z-loss), w[y] and lse:
/// dL/dz[c] = K p[c] - C1 w[c] (times the soft cap's factor) for every column, and, in double, the target column,
/// where p - 1 must not drown in the rounding of K p - K. The one place these coefficients are written, for the
/// plain kernel, the fused kernel and the shards: all three compute the target column in double.
/// <see cref="LogSumExpUpstream"/> is a caller's own dL/dlse for the row (its function of lse outside the kernel):
/// since dlse/dz[c] = p[c], it joins the z-loss term in the multiplier of p.
/// </summary>
/// <remarks>
/// Its members, <see cref="RowAccumulator"/>'s and <see cref="RowLoss"/>'s are inlined into the row loops: called once
/// per row and copying these structs, they cost a short row (10 or 32 classes) about as much as its arithmetic. The
/// JIT keeps every double operation as written, so inlining changes no bits.
/// </remarks>
internal readonly record struct ClassIndexRowGradient(LossConstants Constants, double A, double B, double TargetWeight, LogSumExpParts LogSumExp,
    double LogSumExpUpstream = 0)
{
    /// <summary>K = a (1 - e) w[y] + a (e / C) W + 2 b l lse + g_lse: the multiplier of p[c].</summary>
    public double K
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => (A * (1 - Constants.Smoothing) * TargetWeight) + (Constants.Smoothing > 0 ? A * Constants.PerClass * Constants.WeightTotal : 0) + LseGradient;
    }

    /// <summary>C1 = a e / C: the multiplier of w[c].</summary>
    public double C1
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => A * Constants.PerClass;
    }

    // The z-loss term absent, not 0 x inf, when the option is off; the caller's dL/dlse added as given.
    private double LseGradient
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => (Constants.ZLoss > 0 ? 2.0 * B * Constants.ZLoss * LogSumExp.Value : 0.0) + LogSumExpUpstream;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public GradientCoefficients Coefficients()
    {
        // K beyond float's range (the z-loss term at lse near float.MaxValue): as a float and a power of two.
        var k = WideMultiplier.Of(K * LogSumExp.FloatCorrection);
        return new()
        {
            LogSumExp = (float)LogSumExp.Value,
            K = k.Value,
            KScale = k.Scale,
            C1 = (float)C1,
            InverseCap = Constants.Cap > 0f ? 1f / Constants.Cap : 0f,
        };
    }

    /// <summary>dL/dz[y] in double; <paramref name="targetLogit"/> is the (soft-capped) z[y].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public double Target(float targetLogit)
    {
        double e = Constants.Smoothing;
        double p = LogSumExp.Probability(targetLogit);
        double g = A * (1 - e) * TargetWeight * (p - 1);
        if (e > 0)
        {
            g += A * Constants.PerClass * ((Constants.WeightTotal * p) - TargetWeight);
        }

        g += LseGradient * p;
        float cap = Constants.Cap;
        if (cap > 0f)
        {
            double u = targetLogit / (double)cap;
            g *= 1 - (u * u);
        }

        return g;
    }
}
