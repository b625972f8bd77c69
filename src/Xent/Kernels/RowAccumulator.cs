namespace Xent.Kernels;

/// <summary>
/// A row's running softmax state, folded from block statistics left to right. Every path (one thread per row,
/// or a row split across threads) folds the same blocks in the same order, so the result is bitwise the same
/// for any thread count. The running sum is kept in double: the merges are few (one per block) and cheap.
/// </summary>
internal struct RowAccumulator
{
    public float Max;
    public double Sum;
    public double WeightedLogits;
    public double WeightedTargetLogits;
    public double WeightedTargets;

    /// <summary>The state of no columns at all: merging it changes nothing.</summary>
    public static RowAccumulator Empty => new() { Max = float.NegativeInfinity };

    /// <summary>
    /// log sum_c exp(z[c]). A row of only -inf has no finite maximum: NaN, as the spec (and log_softmax) says.
    /// </summary>
    public readonly double LogSumExp => Max == float.NegativeInfinity ? double.NaN : Max + Math.Log(Sum);

    public void Add(in BlockStatistics block)
    {
        float m = MathF.Max(Max, block.Max); // MathF.Max propagates NaN
        Sum = (Sum * Rescale(Max, m)) + (block.Sum * Rescale(block.Max, m));
        Max = m;
        WeightedLogits += block.WeightedLogits;
        WeightedTargetLogits += block.WeightedTargetLogits;
        WeightedTargets += block.WeightedTargets;
    }

    /// <summary>Merges another row state (shards), the same rule as the block merge.</summary>
    public void Add(in RowAccumulator other)
    {
        float m = MathF.Max(Max, other.Max);
        Sum = (Sum * Rescale(Max, m)) + (other.Sum * Rescale(other.Max, m));
        Max = m;
        WeightedLogits += other.WeightedLogits;
        WeightedTargetLogits += other.WeightedTargetLogits;
        WeightedTargets += other.WeightedTargets;
    }

    // exp(from - to); 1 when equal, so that two empty (-inf) states merge to an empty state, not NaN.
    private static double Rescale(float from, float to) => from == to ? 1.0 : Math.Exp((double)from - to);
}
