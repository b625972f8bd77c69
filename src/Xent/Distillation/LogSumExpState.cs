using Xent.Kernels;

namespace Xent.Distillation;

/// <summary>
/// A running log-sum-exp as (max, sum of exp(x - max)) in double, with a weighted sum sum exp(x - max) w that
/// rescales with it (the KL divergences' E[w] without a second sweep): tiles fold into it left to right, and
/// partial states fold the same way, so a row's value depends only on the order of its tiles, never on the batch.
/// </summary>
/// <remarks>
/// The reverse KL's w is (x - m) - (y - m_t), x the student's and y the teacher's tempered logits, m and m_t their
/// maxima: relative to the maxima, not x - y, which far from 0 (rows of -1e30, or logits of opposite sign near
/// float.MaxValue) loses what the gradient needs, or overflows. A fold rebases each part's w to the larger maxima.
/// </remarks>
internal struct LogSumExpState
{
    private double max;
    private double sum;
    private double weighted;
    private double teacherMax;
    private float rawMax;

    // The max's terms apart (reverse KL): their count (in sum), their part of weighted (relative to the same shifts),
    // and the teacher's logit at the max (where the count is 1).
    private double top;
    private double topWeighted;
    private float teacherAtMax;

    public static LogSumExpState Empty => new() { max = double.NegativeInfinity, rawMax = float.NegativeInfinity };

    /// <summary>
    /// log sum exp in its parts (max, log sum): -inf max for nothing (or only -inf), NaN with a NaN or +inf. Differences
    /// with lse must be taken through them (<see cref="LogSumExpParts.Minus"/>): at |max| of about 1e12 and more, max +
    /// log sum in double loses log sum (a row of -1e30 everywhere would have p = 1 in every column, not 1 / V).
    /// </summary>
    public readonly LogSumExpParts Parts => new(max, Math.Log(sum));

    /// <summary>The largest value seen (a float logit's value, tempered in double: a float times a float is exact there).</summary>
    public readonly double Max => max;

    /// <summary>The float logit whose (tempered) value <see cref="Max"/> is: what the lanes subtract before tempering.</summary>
    public readonly float RawMax => rawMax;

    /// <summary>The teacher's shift m_t that <see cref="Mean"/> is relative to (0 for a part whose teacher logits were all -inf).</summary>
    public readonly double TeacherMax => teacherMax;

    /// <summary>The weighted mean sum exp(x) w / sum exp(x), w relative to <see cref="Max"/> and <see cref="TeacherMax"/>.</summary>
    public readonly double Mean => weighted / sum;

    /// <summary>sum exp(x - <see cref="Max"/>).</summary>
    public readonly double Sum => sum;

    /// <summary>The count of the max's terms (each exp(0) = 1), where the tiles passed them.</summary>
    public readonly double Top => top;

    /// <summary>The max's terms' part of the weighted sum, relative to <see cref="TeacherMax"/>.</summary>
    public readonly double TopWeighted => topWeighted;

    /// <summary>The teacher's logit at the max, where <see cref="Top"/> is 1.</summary>
    public readonly float TeacherAtMax => teacherAtMax;

    /// <summary>A tile's state: its max and its sums relative to that max.</summary>
    /// <param name="tileSum">Sum of exp(x - tileMax), x the tempered logits.</param>
    /// <param name="tileRawMax">The tile's max logit, before tempering.</param>
    /// <param name="inverseTemperature">1 / T, as the lanes temper with it: the state's max is tileRawMax / T, in double.</param>
    /// <param name="tileWeighted">Sum of exp(x - tileMax) w.</param>
    /// <param name="tileTeacherMax">The teacher's (tempered) shift m_t that w is relative to (reverse KL), else 0.</param>
    /// <param name="tileTop">The count of the tile max's terms in <paramref name="tileSum"/> (reverse KL).</param>
    /// <param name="tileTopWeighted">Their part of <paramref name="tileWeighted"/>.</param>
    /// <param name="tileTeacherAtMax">The teacher's logit at the tile's max, where <paramref name="tileTop"/> is 1.</param>
    public static LogSumExpState Of(float tileRawMax, double tileSum, float inverseTemperature = 1f, double tileWeighted = 0, double tileTeacherMax = 0,
        double tileTop = 0, double tileTopWeighted = 0, float tileTeacherAtMax = 0) =>
        tileRawMax == float.NegativeInfinity ? Empty
        : new()
        {
            max = (double)tileRawMax * inverseTemperature,
            rawMax = tileRawMax,
            sum = tileSum,
            weighted = tileWeighted,
            teacherMax = tileTeacherMax,
            top = tileTop,
            topWeighted = tileTopWeighted,
            teacherAtMax = tileTeacherAtMax,
        };

    /// <summary>Folds another state in: the larger max stays, the other sums are rescaled to it, both weighted sums rebased.</summary>
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
            return;
        }

        double t = Math.Max(teacherMax, other.teacherMax);
        if (other.max > max)
        {
            double f = Math.Exp(max - other.max);
            weighted = (Rebased(weighted, sum, max - other.max, teacherMax - t) * f) + Rebased(other.weighted, other.sum, 0, other.teacherMax - t);
            sum = (sum * f) + other.sum;
            max = other.max;
            rawMax = other.rawMax;
            topWeighted = Rebased(other.topWeighted, other.top, 0, other.teacherMax - t);
            top = other.top;
            teacherAtMax = other.teacherAtMax;
        }
        else
        {
            double f = Math.Exp(other.max - max); // NaN max lands here and poisons the sums
            weighted = Rebased(weighted, sum, 0, teacherMax - t) + (Rebased(other.weighted, other.sum, other.max - max, other.teacherMax - t) * f);
            sum += other.sum * f;
            topWeighted = Rebased(topWeighted, top, 0, teacherMax - t);
            if (other.max == max)
            {
                topWeighted += Rebased(other.topWeighted, other.top, 0, other.teacherMax - t);
                top += other.top;
            }
        }

        teacherMax = t;
    }

    // sum exp(x - m) ((x - m') - (y - m_t')) from sum exp(x - m) ((x - m) - (y - m_t)): plus sum ((m - m') - (m_t - m_t')).
    // Exact where the shifts are 0 (the common fold of equal maxima).
    private static double Rebased(double weighted, double sum, double shift, double teacherShift) =>
        shift == teacherShift ? weighted : weighted + (sum * (shift - teacherShift));
}
