using Xent.Kernels;

namespace Xent;

/// <summary>
/// The partial softmax state of one row over a shard of the vocabulary (tensor parallelism: shard k holds the
/// columns [c_k, c_k+1)). States of disjoint shards merge associatively into the state of their union; the
/// state of the whole row gives the exact loss (see <see cref="CrossEntropyShards"/>).
/// </summary>
public readonly record struct CrossEntropyShardState
{
    // Max is stored as its bits XOR those of -inf, so that default(CrossEntropyShardState), which every entry of a fresh
    // array holds, is Empty. A default of max 0 was a state of no columns that still rescaled every sum merged into it
    // against 0: rows whose logits all lie below about -745 underflowed to a loss of -inf or NaN.
    private const int NegativeInfinityBits = unchecked((int)0xFF800000);

    private readonly int maxKey;

    /// <summary>
    /// The state of no columns (an empty shard): merging it changes nothing. It is <c>default</c>, so a fresh array
    /// holds empty states, ready to merge shards into.
    /// </summary>
    public static CrossEntropyShardState Empty => default;

    /// <summary>m: the max of the shard's (soft-capped) logits; -inf for an empty shard.</summary>
    public float Max
    {
        get => BitConverter.Int32BitsToSingle(maxKey ^ NegativeInfinityBits);
        init => maxKey = BitConverter.SingleToInt32Bits(value) ^ NegativeInfinityBits;
    }

    /// <summary>s: sum over the shard of exp(z - Max).</summary>
    public double SumExp { get; init; }

    /// <summary>Whether the row's target column lies in this shard (then <see cref="TargetLogit"/> is z[y]).</summary>
    public bool HasTarget { get; init; }

    /// <summary>z[y], the target's (soft-capped) logit, when <see cref="HasTarget"/>; otherwise 0.</summary>
    public float TargetLogit { get; init; }

    /// <summary>sum over the shard of w[c] z[c], for label smoothing (0 when smoothing is off).</summary>
    public double WeightedLogitSum { get; init; }

    /// <summary>log sum_c exp(z[c]) over the shard's columns; NaN when they are all -inf (or none).</summary>
    public double LogSumExp => Parts.Value;

    /// <summary>lse in its parts, for the formulas that take differences with it (see <see cref="LogSumExpParts"/>).</summary>
    internal LogSumExpParts Parts => LogSumExpParts.Of(Max, SumExp);

    /// <summary>
    /// The state of the union of two disjoint shards: m = max(m_a, m_b), s = s_a exp(m_a - m) + s_b exp(m_b - m).
    /// </summary>
    /// <param name="a">One shard's state.</param>
    /// <param name="b">The other's.</param>
    public static CrossEntropyShardState Merge(CrossEntropyShardState a, CrossEntropyShardState b)
    {
        var (max, sum) = RowAccumulator.Merge(a.Max, a.SumExp, b.Max, b.SumExp);
        return new CrossEntropyShardState
        {
            Max = max,
            SumExp = sum,
            HasTarget = a.HasTarget || b.HasTarget,
            TargetLogit = a.HasTarget ? a.TargetLogit : b.TargetLogit,
            WeightedLogitSum = a.WeightedLogitSum + b.WeightedLogitSum,
        };
    }
}
