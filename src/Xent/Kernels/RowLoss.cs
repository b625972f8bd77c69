using System.Runtime.CompilerServices;

namespace Xent.Kernels;

/// <summary>
/// The loss r[n] of one kept row (docs/spec/cross-entropy.md, forward step 4), kept as its two parts because the
/// Mean reduction divides them differently: <see cref="Main"/>, the cross-entropy and smoothing terms, and
/// <see cref="ZTerm"/>, the z-loss term l lse^2. The one place these terms are written, for the plain kernel,
/// the fused kernel and the shards.
/// </summary>
internal readonly record struct RowLoss(double Main, double ZTerm)
{
    /// <summary>r[n].</summary>
    public double Total => Main + ZTerm;

    /// <summary>
    /// r[n] = (1 - e) w[y] (lse - z[y]) + (e / C) (W lse - sum_c w[c] z[c]) + l lse^2 for a kept class-index row.
    /// </summary>
    /// <param name="k">The call's constants.</param>
    /// <param name="targetWeight">w[y].</param>
    /// <param name="logSumExp">lse[n], in its parts.</param>
    /// <param name="targetLogit">z[n, y] (soft-capped).</param>
    /// <param name="weightedLogits">sum_c w[c] z[n, c]; read only with smoothing.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static RowLoss ClassIndex(in LossConstants k, double targetWeight, LogSumExpParts logSumExp, double targetLogit, double weightedLogits)
    {
        double lse = logSumExp.Value;
        double main = (1 - k.Smoothing) * targetWeight * logSumExp.Minus(targetLogit);
        if (k.Smoothing > 0)
        {
            // Absent, not 0 x inf, when e = 0: a -inf logit elsewhere must not make the loss NaN.
            main += k.PerClass * ((k.WeightTotal * lse) - weightedLogits);
        }

        return new RowLoss(main, ZLossTerm(k, lse));
    }

    /// <summary>
    /// r[n] = lse sum_c w[c] t'[c] - sum_c w[c] t'[c] z[c] + l lse^2 for probability targets, t' = (1 - e) t + e / C.
    /// </summary>
    /// <param name="k">The call's constants.</param>
    /// <param name="logSumExp">lse[n], in its parts.</param>
    /// <param name="weightedTargets">sum_c w[c] t'[n, c].</param>
    /// <param name="weightedTargetLogits">sum_c w[c] t'[n, c] z[n, c].</param>
    /// <remarks>Taken as w t' log s + (w t' m - w t' z), so that log s survives where m + log s rounds to m.</remarks>
    public static RowLoss Probabilities(in LossConstants k, LogSumExpParts logSumExp, double weightedTargets, double weightedTargetLogits) =>
        new((weightedTargets * logSumExp.LogSum) + ((weightedTargets * logSumExp.Max) - weightedTargetLogits), ZLossTerm(k, logSumExp.Value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double ZLossTerm(in LossConstants k, double logSumExp) => k.ZLoss > 0 ? k.ZLoss * logSumExp * logSumExp : 0.0;
}
