namespace Xent.Distributed.Vocabulary;

/// <summary>
/// Turns each rank's per-row <see cref="CrossEntropyShardState"/>s into the states of the whole vocabulary on every
/// rank, in two collectives as Megatron's fused path, once the caller's <see cref="CallFingerprint.Agree"/> has made
/// sure that every rank passed the same arguments (N among them): an all-reduce Max of the row maxima (and targets), then
/// one all-reduce Sum of
/// everything else packed together (per row: the sum of exponentials rescaled to the global max, the target logit,
/// which only its owner contributes, the weighted logit sum of label smoothing, and the target, whose sum and max
/// tell every rank alike whether the ranks passed the same targets). Class weights, z-loss and the
/// soft cap need nothing more: the weights are known on every rank, z-loss needs only the log-sum-exp, and the
/// states hold already capped logits.
/// </summary>
internal static class ShardStateExchange
{
    private const int PackedPerRow = 4;

    /// <summary>Replaces <paramref name="states"/> [N] (this rank's) by the merged states of every rank's slice.</summary>
    /// <param name="communicator">The group; every rank calls this with the same N and targets, after the call's fingerprint agreed.</param>
    /// <param name="states">This rank's states [N] in, the merged states out.</param>
    /// <param name="targets">Targets [N] (the same on every rank).</param>
    /// <param name="ignoreIndex">The ignore index: rows with it have no target logit.</param>
    public static void Merge(ICommunicator communicator, Span<CrossEntropyShardState> states, ReadOnlySpan<int> targets, int ignoreIndex)
    {
        int n = states.Length;
        if (n == 0)
        {
            return;
        }

        // Per row the max and the target: with the target's sum below, every rank sees the same sum and max, so
        // targets that differ between ranks (a wrong number, or a NaN on one rank only) are refused on all of them.
        var max = new double[n * 2];
        for (int i = 0; i < n; i++)
        {
            max[i * 2] = states[i].Max;
            max[(i * 2) + 1] = targets[i];
        }

        communicator.AllReduce<double>(max, ReduceOperation.Max);
        var packed = new double[n * PackedPerRow];
        for (int i = 0; i < n; i++)
        {
            // Merging with an empty state at the global max is exactly the rescale s exp(m - M) of a merge.
            var local = CrossEntropyShardState.Merge(states[i], CrossEntropyShardState.Empty with { Max = (float)max[i * 2] });
            packed[(i * PackedPerRow) + 0] = local.SumExp;
            packed[(i * PackedPerRow) + 1] = local.HasTarget ? local.TargetLogit : 0.0;
            packed[(i * PackedPerRow) + 2] = local.WeightedLogitSum;
            packed[(i * PackedPerRow) + 3] = targets[i];
        }

        communicator.AllReduce<double>(packed, ReduceOperation.Sum);
        for (int i = 0; i < n; i++)
        {
            // Exact in double: the sum equals Size times the max only when every rank passed the same target.
            if (packed[(i * PackedPerRow) + 3] != max[(i * 2) + 1] * communicator.Size)
            {
                throw new ArgumentException(
                    $"The ranks passed different targets for row {i} (this rank {targets[i]}, the largest {max[(i * 2) + 1]}): every rank must pass the same targets.",
                    nameof(targets));
            }
        }

        for (int i = 0; i < n; i++)
        {
            states[i] = new CrossEntropyShardState
            {
                Max = (float)max[i * 2],
                SumExp = packed[(i * PackedPerRow) + 0],
                HasTarget = targets[i] != ignoreIndex,

                // One rank's float plus zeros: exact.
                TargetLogit = (float)packed[(i * PackedPerRow) + 1],
                WeightedLogitSum = packed[(i * PackedPerRow) + 2],
            };
        }
    }
}
