namespace Xent.Distributed.Vocabulary;

/// <summary>
/// <see cref="CrossEntropy"/> over logits whose columns are split across the ranks (tensor parallel): rank r holds
/// the columns of its <see cref="VocabularySlice.For(int, ICommunicator)"/>, logitsShard [N, V_r], and the same targets [N] as
/// every other rank. Each call checks that the ranks passed the same arguments (an all-reduce Max of 48 bytes),
/// exchanges the per-row states in one all-reduce Max and one all-reduce Sum, returns the loss of the whole vocabulary
/// on every rank, and writes each rank's own slice of the gradient.
/// Every option of <see cref="CrossEntropyOptions"/> means what it means in one process (ClassWeights has all V
/// entries, on every rank). Every rank must make the same calls with the same V, N, targets, options and upstream
/// gradients: a rank passing another throws an <see cref="ArgumentException"/> naming it, as every other rank does.
/// Loss, LossPerRow and MergedStates may mix: they differ only in what each rank reads from the same merged states.
/// </summary>
public static class VocabParallelCrossEntropy
{
    /// <summary>The states of the whole vocabulary for every row, the same on every rank (three collectives).</summary>
    /// <param name="communicator">The group.</param>
    /// <param name="logitsShard">This rank's logits columns [N, V_r].</param>
    /// <param name="classes">V, the whole vocabulary.</param>
    /// <param name="targets">Targets [N] over the whole vocabulary (or the ignore index).</param>
    /// <param name="states">Destination [N].</param>
    /// <param name="options">Options; null for PyTorch's defaults.</param>
    public static void MergedStates(ICommunicator communicator, ReadOnlySpan<float> logitsShard, int classes, ReadOnlySpan<int> targets,
        Span<CrossEntropyShardState> states, CrossEntropyOptions? options = null)
    {
        var o = options ?? CrossEntropyOptions.Default;
        Merged(communicator, logitsShard, classes, targets, states, o, Fingerprint(VocabularyCall.CrossEntropy, classes, targets, o, null));
    }

    /// <summary>The reduced loss (Mean or Sum) of the whole vocabulary, the same on every rank.</summary>
    /// <param name="communicator">The group.</param>
    /// <param name="logitsShard">This rank's logits columns [N, V_r].</param>
    /// <param name="classes">V.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="options">Options; Reduction.None throws (use <see cref="LossPerRow"/>).</param>
    /// <returns>The loss; NaN for Mean when every row is ignored.</returns>
    public static float Loss(ICommunicator communicator, ReadOnlySpan<float> logitsShard, int classes, ReadOnlySpan<int> targets, CrossEntropyOptions? options = null)
    {
        var o = Reduced(options);
        var states = new CrossEntropyShardState[targets.Length];
        Merged(communicator, logitsShard, classes, targets, states, o, Fingerprint(VocabularyCall.CrossEntropy, classes, targets, o, o.Reduction));
        return CrossEntropyShards.Loss(states, targets, classes, o);
    }

    /// <summary>Per-row losses r [N] of the whole vocabulary (0 for ignored rows), and optionally lse [N].</summary>
    /// <param name="communicator">The group.</param>
    /// <param name="logitsShard">This rank's logits columns [N, V_r].</param>
    /// <param name="classes">V.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="losses">Destination r [N].</param>
    /// <param name="logSumExp">Destination lse [N] of the (capped) logits, every row, or empty for none.</param>
    /// <param name="options">Options; Reduction is not used.</param>
    public static void LossPerRow(ICommunicator communicator, ReadOnlySpan<float> logitsShard, int classes, ReadOnlySpan<int> targets,
        Span<float> losses, Span<float> logSumExp = default, CrossEntropyOptions? options = null)
    {
        var o = options ?? CrossEntropyOptions.Default;
        if (!logSumExp.IsEmpty && logSumExp.Length != targets.Length)
        {
            throw new ArgumentException($"logSumExp has {logSumExp.Length} entries but there are N = {targets.Length} rows.", nameof(logSumExp));
        }

        var states = new CrossEntropyShardState[targets.Length];
        Merged(communicator, logitsShard, classes, targets, states, o, Fingerprint(VocabularyCall.CrossEntropy, classes, targets, o, null));
        CrossEntropyShards.LossPerRow(states, targets, classes, losses, o);
        WriteLogSumExp(states, logSumExp);
    }

    /// <summary>The reduced loss, and this rank's slice of upstream x d(loss)/d(logits).</summary>
    /// <param name="communicator">The group.</param>
    /// <param name="logitsShard">This rank's logits columns [N, V_r].</param>
    /// <param name="classes">V.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="gradientShard">Destination [N, V_r]; may be exactly the logits' memory (in place).</param>
    /// <param name="upstream">Upstream gradient of the loss; 1 for a plain loss. The returned loss is not scaled.</param>
    /// <param name="options">Options; Reduction Mean or Sum.</param>
    /// <returns>The loss of the whole vocabulary.</returns>
    public static float LossAndGradient(ICommunicator communicator, ReadOnlySpan<float> logitsShard, int classes, ReadOnlySpan<int> targets,
        Span<float> gradientShard, float upstream = 1f, CrossEntropyOptions? options = null)
    {
        var o = Reduced(options);
        var states = new CrossEntropyShardState[targets.Length];
        Merged(communicator, logitsShard, classes, targets, states, o, Fingerprint(VocabularyCall.CrossEntropyGradient, classes, targets, o, o.Reduction).WithUpstream(upstream));
        float loss = CrossEntropyShards.Loss(states, targets, classes, o);
        CrossEntropyShards.Gradient(logitsShard, VocabularySlice.For(classes, communicator).Offset, classes, targets, states, gradientShard, upstream, o);
        return loss;
    }

    /// <summary>
    /// The backward of <see cref="LossPerRow"/> in a caller's graph: this rank's slice of d(sum_n g[n] r[n]) /
    /// d(logits). Recomputes the merged states (three collectives).
    /// </summary>
    /// <param name="communicator">The group.</param>
    /// <param name="logitsShard">This rank's logits columns [N, V_r].</param>
    /// <param name="classes">V.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="upstream">Upstream gradients g [N] (the same on every rank).</param>
    /// <param name="gradientShard">Destination [N, V_r]; may be the logits' memory.</param>
    /// <param name="options">Options; Reduction is not used.</param>
    public static void Gradient(ICommunicator communicator, ReadOnlySpan<float> logitsShard, int classes, ReadOnlySpan<int> targets,
        ReadOnlySpan<float> upstream, Span<float> gradientShard, CrossEntropyOptions? options = null)
    {
        var o = options ?? CrossEntropyOptions.Default;
        var states = new CrossEntropyShardState[targets.Length];
        Merged(communicator, logitsShard, classes, targets, states, o, Fingerprint(VocabularyCall.CrossEntropyGradient, classes, targets, o, Reduction.None).WithUpstream(upstream));
        CrossEntropyShards.Gradient(logitsShard, VocabularySlice.For(classes, communicator).Offset, classes, targets, states, upstream, gradientShard, o);
    }

    internal static void WriteLogSumExp(ReadOnlySpan<CrossEntropyShardState> states, Span<float> logSumExp)
    {
        if (logSumExp.IsEmpty)
        {
            return;
        }

        for (int n = 0; n < states.Length; n++)
        {
            logSumExp[n] = (float)states[n].LogSumExp;
        }
    }

    private static CallFingerprint Fingerprint(VocabularyCall call, int classes, ReadOnlySpan<int> targets, CrossEntropyOptions o, Reduction? reduction) =>
        CallFingerprint.Of(call, classes, targets.Length, 0, o, reduction);

    private static void Merged(ICommunicator communicator, ReadOnlySpan<float> logitsShard, int classes, ReadOnlySpan<int> targets,
        Span<CrossEntropyShardState> states, CrossEntropyOptions o, CallFingerprint fingerprint)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        var slice = VocabularySlice.For(classes, communicator);
        CheckShard(logitsShard.Length, slice, targets.Length);

        // Before the states: a rank whose differing options make its own targets invalid would throw alone.
        fingerprint.Agree(communicator);
        CrossEntropyShards.Compute(logitsShard, slice.Offset, classes, targets, states, o);
        ShardStateExchange.Merge(communicator, states[..targets.Length], targets, o.IgnoreIndex);
    }

    private static CrossEntropyOptions Reduced(CrossEntropyOptions? options)
    {
        var o = options ?? CrossEntropyOptions.Default;
        return o.Reduction == Reduction.None
            ? throw new ArgumentException("Reduction.None has no single loss: call LossPerRow.", nameof(options))
            : o;
    }

    private static void CheckShard(int length, VocabularySlice slice, int rows)
    {
        if ((long)rows * slice.Width != length)
        {
            throw new ArgumentException(
                $"logitsShard has {length} values but this rank holds N x V_r = {rows} x {slice.Width} (classes [{slice.Offset}, {slice.Offset + slice.Width}) of {slice.Classes}).",
                "logitsShard");
        }
    }
}
