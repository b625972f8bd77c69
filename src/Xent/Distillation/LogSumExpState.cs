namespace Xent.Distillation;

/// <summary>
/// A running log-sum-exp as (max, sum of exp(x - max)) in double, with a weighted sum sum exp(x - max) w that
/// rescales with it (the KL divergences' E[w] without a second sweep): tiles fold into it left to right, and
/// partial states fold the same way, so a row's value depends only on the order of its tiles, never on the batch.
/// </summary>
internal struct LogSumExpState
{
    private double max;
    private double sum;
    private double weighted;

    public static LogSumExpState Empty => new() { max = double.NegativeInfinity };

    /// <summary>log sum exp: -inf for nothing (or only -inf), NaN with a NaN or +inf.</summary>
    public readonly double Value => max + Math.Log(sum);

    /// <summary>The largest value seen (a float's value: the maxima are of float logits).</summary>
    public readonly double Max => max;

    /// <summary>The weighted mean sum exp(x) w / sum exp(x).</summary>
    public readonly double Mean => weighted / sum;

    /// <summary>A tile's state: its max and its sums relative to that max.</summary>
    /// <param name="tileMax">The tile's max.</param>
    /// <param name="tileSum">Sum of exp(x - tileMax).</param>
    /// <param name="tileWeighted">Sum of exp(x - tileMax) w.</param>
    public static LogSumExpState Of(double tileMax, double tileSum, double tileWeighted = 0) =>
        tileMax == double.NegativeInfinity ? Empty : new() { max = tileMax, sum = tileSum, weighted = tileWeighted };

    /// <summary>Folds another state in: the larger max stays, the other sums are rescaled to it.</summary>
    /// <param name="other">The state to add.</param>
    public void Add(in LogSumExpState other)
    {
        if (other.max == double.NegativeInfinity)
        {
            return;
        }

        if (max == double.NegativeInfinity)
        {
            this = other;
        }
        else if (other.max > max)
        {
            double f = Math.Exp(max - other.max);
            sum = (sum * f) + other.sum;
            weighted = (weighted * f) + other.weighted;
            max = other.max;
        }
        else
        {
            double f = Math.Exp(other.max - max); // NaN max lands here and poisons the sums
            sum += other.sum * f;
            weighted += other.weighted * f;
        }
    }
}
