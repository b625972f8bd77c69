namespace Xent.Kernels;

/// <content>
/// The leading column of a confident probability-target row, rewritten in double as <see cref="FixTarget"/> rewrites a
/// class-index row's target column.
/// </content>
internal sealed unsafe partial class CrossEntropyKernel
{
    /// <summary>
    /// A row's sum of exp(z - max) under which its max has p above 1/2: the only column where K p - w t' can cancel
    /// badly (K is about sum w t', so only a p near 1 beside a t near 1 takes most of either away). There, in float, dz
    /// is p - t to the ulp of 1 (1.2e-3 of dz at p = 1 - 7.8e-5). One column only: two columns at the max would add 2.
    /// </summary>
    private const double DominantSum = 2.0;

    /// <summary>A probability-target row's column with p above 1/2, and sum_c w[c] t[c] over its other columns (default: none).</summary>
    /// <param name="Found">Whether the row has such a column (false also without a gradient, or for class-index targets).</param>
    /// <param name="Column">The column.</param>
    /// <param name="OtherWeightedTargets">sum_c w[c] t[c] over c other than <paramref name="Column"/>, of the targets before smoothing.</param>
    private readonly record struct DominantColumn(bool Found, int Column, double OtherWeightedTargets);

    /// <summary>
    /// Where a probability-target row's max has p above 1/2, its first column (the only one: see <see cref="DominantSum"/>)
    /// and the weighted targets of the other columns: the first block whose max is the row's searched again
    /// (<see cref="StatisticsKernel.DominantColumn"/>), the other blocks' sums taken from the forward in block order. Read
    /// before the write pass overwrites the (capped) logits, in place; the same bits for any thread count. Only such
    /// rows pay: 256 x 32000 rows that all lead by 20 took 1.03-1.05x the time of LossAndGradient without it (one
    /// thread, 512 bits, in one process alternating; rows without such a column 0.99-1.01x).
    /// </summary>
    private DominantColumn FindDominant(int n, in RowAccumulator state, ReadOnlySpan<BlockStatistics> blockStatistics, Span<float> scratch)
    {
        float max = state.Max;
        if (!(state.Sum < DominantSum) || !float.IsFinite(max))
        {
            return default;
        }

        int found = -1, blocks = BlockCount;
        double others = 0;
        for (int b = 0; b < blocks; b++)
        {
            if (found < 0 && blockStatistics[b].Max == max)
            {
                int column = b * BlockColumns, length = Math.Min(BlockColumns, classes - column);
                var z = BlockForGradient(n, column, length, scratch);
                int at = StatisticsKernel.DominantColumn(request.Width, z, max, WeightsAt(column, length), ProbabilitiesAt(n, column, length), out double rest);
                if (at < 0)
                {
                    return default;
                }

                found = column + at;
                others += rest;
            }
            else
            {
                others += blockStatistics[b].WeightedTargets;
            }
        }

        return found < 0 ? default : new DominantColumn(true, found, others);
    }

    /// <summary>
    /// Rewrites a probability-target row's leading column j in double: with t' = (1 - e) t + e / C and R = sum over the
    /// other columns of w t', dz[j] = a (p R - (1 - p) w[j] t'[j]) + 2 b l lse p, times 1 - (z[j] / s)^2 under a soft cap:
    /// the spec's a (p sum w t' - w[j] t'[j]) + 2 b l lse p with its cancellation taken out. z[j] is the row's max, p
    /// = exp(-log s) and 1 - p from it in double.
    /// </summary>
    private void FixDominant(int n, in RowGradient row, DominantColumn dominant)
    {
        if (!dominant.Found)
        {
            return;
        }

        nint at = RowOffset(n) + dominant.Column;
        double e = constants.Smoothing, perClass = constants.PerClass;
        double w = request.Weights == null ? 1.0 : request.Weights[dominant.Column];
        double t = ((1 - e) * request.Probabilities[at]) + (e > 0 ? perClass : 0);
        double rest = ((1 - e) * dominant.OtherWeightedTargets) + (e > 0 ? perClass * (constants.WeightTotal - w) : 0);
        var lse = row.LogSumExp;
        double p = lse.Probability(lse.Max);
        double g = row.A * ((p * rest) - ((1 - p) * (w * t)));
        if (constants.ZLoss > 0)
        {
            g += 2.0 * row.B * constants.ZLoss * lse.Value * p;
        }

        if (cap > 0f)
        {
            double u = lse.Max / cap;
            g *= 1 - (u * u);
        }

        ((float*)request.Gradient)[at] = (float)g;
    }
}
