using System.Runtime.CompilerServices;

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
    /// log sum_c exp(z[c]) in its parts, max and log sum (see <see cref="LogSumExpParts"/>); its value is NaN for a row
    /// of only -inf, which has no finite maximum, as the spec (and log_softmax) says.
    /// </summary>
    public readonly LogSumExpParts LogSumExpParts => LogSumExpParts.Of(Max, Sum);

    /// <summary>
    /// <see cref="Empty"/> with one block added: what <see cref="Add"/> gives (the merge with an empty state rescales
    /// nothing: max m, sum 0 + s; a NaN sum where m is NaN), written without <see cref="Merge"/>'s exp calls. In a loop
    /// of short rows (one block each, the calls never taken) those cost 2048 rows of 32 classes 7% of <c>Loss</c>'s
    /// time (one Zen 4 core, 512 bits), and so did one call out of line for the NaN case: it is a comparison here.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static RowAccumulator Of(BlockStatistics block) => new()
    {
        Max = block.Max,
        Sum = float.IsNaN(block.Max) ? double.NaN : 0.0 + block.Sum,
        WeightedLogits = 0.0 + block.WeightedLogits,
        WeightedTargetLogits = 0.0 + block.WeightedTargetLogits,
        WeightedTargets = 0.0 + block.WeightedTargets,
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(in BlockStatistics block)
    {
        (Max, Sum) = Merge(Max, Sum, block.Max, block.Sum);
        WeightedLogits += block.WeightedLogits;
        WeightedTargetLogits += block.WeightedTargetLogits;
        WeightedTargets += block.WeightedTargets;
    }

    /// <summary>
    /// The spec's merge of two softmax states of disjoint columns: m = max(m_a, m_b),
    /// s = s_a exp(m_a - m) + s_b exp(m_b - m). The one place it is written (blocks, rows, shards).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (float Max, double Sum) Merge(float maxA, double sumA, float maxB, double sumB)
    {
        float m = MathF.Max(maxA, maxB); // MathF.Max propagates NaN

        // An empty state (sum 0) adds 0 whatever its rescale (0 or 1; NaN only where m is NaN, and then so is the
        // other term): no exp for the first block a row folds in.
        return (m, (sumA == 0 ? 0.0 : sumA * Rescale(maxA, m)) + (sumB * Rescale(maxB, m)));
    }

    // exp(from - to); 1 when equal, so that two empty (-inf) states merge to an empty state, not NaN.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Rescale(float from, float to) => from == to ? 1.0 : Math.Exp((double)from - to);
}
