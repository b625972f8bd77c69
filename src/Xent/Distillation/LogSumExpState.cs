namespace Xent.Distillation;

/// <summary>
/// A running log-sum-exp as (max, sum of exp(x - max)) in double: tiles fold into it left to right, and partial
/// states fold the same way, so a row's value depends only on the order of its tiles, never on the batch.
/// </summary>
internal struct LogSumExpState
{
    private double max;
    private double sum;

    public static LogSumExpState Empty => new() { max = double.NegativeInfinity };

    /// <summary>log sum exp: -inf for nothing (or only -inf), NaN with a NaN or +inf.</summary>
    public readonly double Value => max + Math.Log(sum);

    /// <summary>The state of <paramref name="values"/> / <paramref name="temperature"/>.</summary>
    /// <param name="values">Logits of one row's tile.</param>
    /// <param name="temperature">Divisor T (1 leaves the values exact).</param>
    public static LogSumExpState Of(ReadOnlySpan<float> values, double temperature)
    {
        double m = double.NegativeInfinity;
        foreach (float x in values)
        {
            m = Math.Max(m, x / temperature); // Math.Max propagates NaN
        }

        double s = 0;
        if (m != double.NegativeInfinity)
        {
            foreach (float x in values)
            {
                s += Math.Exp((x / temperature) - m);
            }
        }

        return new() { max = m, sum = s };
    }

    /// <summary>Folds another state in: the larger max stays, the other sum is rescaled to it.</summary>
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
            sum = (sum * Math.Exp(max - other.max)) + other.sum;
            max = other.max;
        }
        else
        {
            sum += other.sum * Math.Exp(other.max - max); // NaN max lands here and poisons the sum
        }
    }
}
