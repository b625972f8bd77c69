using System.Runtime.CompilerServices;

namespace Xent.Kernels;

/// <summary>
/// A row's log-sum-exp kept as its two parts, lse = m + log s (m the row's max, s = sum_c exp(z[c] - m)), for the
/// formulas that take differences with it. At |m| of about 1e12 and more, m + log s in double loses log s (all of it
/// from about 1e16: a row of -1e30 everywhere would have lse = m, a loss of 0 and p = 1 in every column), while
/// (m - z) + log s and exp((z - m) - log s) keep it. Logits that far from 0 come from masks (-1e30, float.MinValue)
/// on rows that were not ignored.
/// </summary>
/// <param name="Max">m, the row's max; -inf for a row of only -inf (NaN for a row with a NaN).</param>
/// <param name="LogSum">log s, in [0, log V] for a row without NaN.</param>
internal readonly record struct LogSumExpParts(double Max, double LogSum)
{
    /// <summary>The parts of a row's folded statistics: max m and sum s.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static LogSumExpParts Of(float max, double sum) => new(max, Math.Log(sum));

    /// <summary>lse = m + log s; NaN for a row of only -inf, as the spec (and log_softmax) says.</summary>
    public double Value
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Max == double.NegativeInfinity ? double.NaN : Max + LogSum;
    }

    /// <summary>lse - z, as (m - z) + log s (NaN for a row of only -inf: -inf - -inf).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public double Minus(double z) => (Max - z) + LogSum;

    /// <summary>p = exp(z - lse), as exp((z - m) - log s).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public double Probability(double z) => Math.Exp(-Minus(z));

    /// <summary>
    /// exp(float(lse) - lse): the vector kernels compute exp(z - float(lse)), and at logits in the thousands the
    /// rounding of lse to float (up to |lse| 2^-24, 1.5e-4 at 2500) would be a relative error of every p. Folded into
    /// the multiplier of p, it costs nothing per element and leaves p with the exp's own few ulp. Taken as
    /// exp((float(lse) - m) - log s), so that it holds where m + log s rounds to m.
    /// </summary>
    public double FloatCorrection
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            // m + log s is -inf, not NaN, for a row of only -inf: not finite either way.
            double lse = Max + LogSum;
            if (!double.IsFinite(lse))
            {
                return 1.0;
            }

            // The argument is lse's rounding to float, under 2^-20 for |lse| < 16: below 2^-18 1 + x + x^2 / 2 is exp(x) to
            // within x^3 / 6 < 2^-56, half an ulp of 1, and saves a short row one of its three calls of Math.Exp.
            double x = ((float)lse - Max) - LogSum;
            return Math.Abs(x) < 3.814697265625E-06 ? 1.0 + (x + (0.5 * x * x)) : Math.Exp(x);
        }
    }
}
