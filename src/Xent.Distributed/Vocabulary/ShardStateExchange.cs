namespace Xent.Distributed.Vocabulary;

/// <summary>
/// Turns each rank's per-row <see cref="CrossEntropyShardState"/>s into the states of the whole vocabulary on every
/// rank, in two collectives as Megatron's fused path: an all-reduce Max of the row maxima, then one all-reduce Sum of
/// everything else packed together (per row: the sum of exponentials rescaled to the global max, the target logit,
/// which only its owner contributes, and the weighted logit sum of label smoothing). Class weights, z-loss and the
/// soft cap need nothing more: the weights are known on every rank, z-loss needs only the log-sum-exp, and the
/// states hold already capped logits.
/// </summary>
internal static class ShardStateExchange
{
    private const int PackedPerRow = 3;

    /// <summary>Replaces <paramref name="states"/> [N] (this rank's) by the merged states of every rank's slice.</summary>
    /// <param name="communicator">The group; every rank calls this with the same N and targets.</param>
    /// <param name="states">This rank's states [N] in, the merged states out.</param>
    /// <param name="targets">Targets [N] (the same on every rank).</param>
    /// <param name="ignoreIndex">The ignore index: rows with it have no target logit.</param>
    public static void Merge(ICommunicator communicator, Span<CrossEntropyShardState> states, ReadOnlySpan<int> targets, int ignoreIndex)
    {
        int n = states.Length;
        var max = new float[n];
        for (int i = 0; i < n; i++)
        {
            max[i] = states[i].Max;
        }

        communicator.AllReduce<float>(max, ReduceOperation.Max);
        var packed = new double[n * PackedPerRow];
        for (int i = 0; i < n; i++)
        {
            // Merging with an empty state at the global max is exactly the rescale s exp(m - M) of a merge.
            var local = CrossEntropyShardState.Merge(states[i], CrossEntropyShardState.Empty with { Max = max[i] });
            packed[(i * PackedPerRow) + 0] = local.SumExp;
            packed[(i * PackedPerRow) + 1] = local.HasTarget ? local.TargetLogit : 0.0;
            packed[(i * PackedPerRow) + 2] = local.WeightedLogitSum;
        }

        communicator.AllReduce<double>(packed, ReduceOperation.Sum);
        for (int i = 0; i < n; i++)
        {
            states[i] = new CrossEntropyShardState
            {
                Max = max[i],
                SumExp = packed[(i * PackedPerRow) + 0],
                HasTarget = targets[i] != ignoreIndex,

                // One rank's float plus zeros: exact.
                TargetLogit = (float)packed[(i * PackedPerRow) + 1],
                WeightedLogitSum = packed[(i * PackedPerRow) + 2],
            };
        }
    }
}
