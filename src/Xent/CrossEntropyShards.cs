using Xent.Kernels;
using Xent.LinearAlgebra;

namespace Xent;

/// <summary>
/// Cross-entropy over a vocabulary split across shards (tensor parallel): each shard computes per-row
/// <see cref="CrossEntropyShardState"/>s from its own columns, states merge (in any grouping, any order of
/// disjoint shards), and the merged states give the loss of the whole vocabulary and, shard by shard, its
/// gradient (each shard needs only its own logits and the merged states).
/// Shapes: N rows, V classes in all, shard k holds Vk columns starting at column offset c_k.
/// </summary>
public static class CrossEntropyShards
{
    /// <summary>Per-row partial states of one shard.</summary>
    /// <param name="logitsShard">The shard's logits [N, Vk] row-major (Vk = logitsShard.Length / N; may be 0).</param>
    /// <param name="columnOffset">c_k: the full-vocabulary index of the shard's first column.</param>
    /// <param name="classes">V, the full vocabulary size.</param>
    /// <param name="targets">Targets [N] over the full vocabulary (or the ignore index).</param>
    /// <param name="states">Destination [N]; must not overlap an input.</param>
    /// <param name="options">Options (ClassWeights has all V entries); Reduction is not used here.</param>
    public static void Compute(ReadOnlySpan<float> logitsShard, int columnOffset, int classes, ReadOnlySpan<int> targets, Span<CrossEntropyShardState> states, CrossEntropyOptions? options = null)
    {
        var o = options ?? CrossEntropyOptions.Default;
        int rows = targets.Length;
        int width = ShardWidth(logitsShard.Length, rows);
        CheckColumns(columnOffset, width, classes);

        CrossEntropyChecks.Options(o, classes);
        CrossEntropyChecks.Targets(targets, classes, o.IgnoreIndex);
        CrossEntropyChecks.Destination(states.Length, rows, nameof(states));
        CheckStatesDisjoint(states[..rows], logitsShard, targets, o.ClassWeights.Span);

        var weights = o.ClassWeights.IsEmpty ? default : o.ClassWeights.Span.Slice(columnOffset, width);
        bool smoothing = o.LabelSmoothing > 0f;
        var widthNow = Simd.Width;
        // The capped block: the thread's workspace, as the kernel's (an array per call was 64 KB of garbage a call).
        var scratch = o.SoftCap > 0f ? Workspace.Current.Get<float>(WorkspaceSlot.LogitsBlock, Math.Min(width, CrossEntropyKernel.BlockColumns)) : default;
        for (int n = 0; n < rows; n++)
        {
            var row = logitsShard.Slice(n * width, width);
            var state = RowAccumulator.Empty;
            for (int column = 0; column < width; column += CrossEntropyKernel.BlockColumns)
            {
                int length = Math.Min(CrossEntropyKernel.BlockColumns, width - column);
                ReadOnlySpan<float> z = row.Slice(column, length);
                if (!scratch.IsEmpty)
                {
                    VectorMath.SoftCap(widthNow, z, scratch[..length], o.SoftCap);
                    z = scratch[..length];
                }

                state.Add(StatisticsKernel.Compute(widthNow, z, smoothing && !weights.IsEmpty ? weights.Slice(column, length) : default, default, smoothing));
            }

            int local = targets[n] - columnOffset;
            bool hasTarget = targets[n] != o.IgnoreIndex && (uint)local < (uint)width;
            states[n] = new CrossEntropyShardState
            {
                Max = state.Max,
                SumExp = state.Sum,
                HasTarget = hasTarget,
                TargetLogit = hasTarget ? CrossEntropyKernel.CappedAsItsBlock(widthNow, row.Length, local, row[local], o.SoftCap) : 0f,
                WeightedLogitSum = state.WeightedLogits,
            };
        }
    }

    /// <summary>accumulator[n] = Merge(accumulator[n], shard[n]) for every row.</summary>
    /// <param name="shard">Another shard's states [N].</param>
    /// <param name="accumulator">States [N] merged so far (a fresh array holds empty states); updated in place.</param>
    public static void Merge(ReadOnlySpan<CrossEntropyShardState> shard, Span<CrossEntropyShardState> accumulator)
    {
        if (shard.Length != accumulator.Length)
        {
            throw new ArgumentException($"The shard has {shard.Length} row states but the accumulator {accumulator.Length}.", nameof(shard));
        }

        for (int n = 0; n < shard.Length; n++)
        {
            accumulator[n] = CrossEntropyShardState.Merge(accumulator[n], shard[n]);
        }
    }

    /// <summary>Per-row losses r [N] from the states merged over every shard (0 for ignored rows).</summary>
    /// <param name="states">Merged states [N], covering all V columns.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="classes">V.</param>
    /// <param name="losses">Destination r [N].</param>
    /// <param name="options">The options the states were computed with; Reduction is not used.</param>
    public static void LossPerRow(ReadOnlySpan<CrossEntropyShardState> states, ReadOnlySpan<int> targets, int classes, Span<float> losses, CrossEntropyOptions? options = null)
    {
        var o = options ?? CrossEntropyOptions.Default;
        Check(states, targets, classes, o);
        CrossEntropyChecks.Destination(losses.Length, targets.Length, nameof(losses));
        var k = Constants(o, classes);
        for (int n = 0; n < targets.Length; n++)
        {
            losses[n] = (float)RowLossOf(states[n], targets[n], o, k).Total;
        }
    }

    /// <summary>The reduced loss (Mean or Sum) from the states merged over every shard.</summary>
    /// <param name="states">Merged states [N], covering all V columns.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="classes">V.</param>
    /// <param name="options">The options the states were computed with; Reduction.None throws.</param>
    public static float Loss(ReadOnlySpan<CrossEntropyShardState> states, ReadOnlySpan<int> targets, int classes, CrossEntropyOptions? options = null)
    {
        var o = options ?? CrossEntropyOptions.Default;
        if (o.Reduction == Reduction.None)
        {
            throw new ArgumentException("Reduction.None has no single loss: call LossPerRow.", nameof(options));
        }

        Check(states, targets, classes, o);
        var k = Constants(o, classes);
        double main = 0, z = 0;
        for (int n = 0; n < targets.Length; n++)
        {
            var r = RowLossOf(states[n], targets[n], o, k);
            main += r.Main;
            z += r.ZTerm;
        }

        return (float)KeptRows.Of(targets, o.IgnoreIndex, o.ClassWeights.Span).Reduce(o.Reduction, main, z, o.ZLoss > 0f);
    }

    /// <summary>
    /// The shard's slice of upstream x d(loss)/d(logits), from the states merged over every shard: what each shard
    /// runs in the backward of a vocabulary-parallel head, with no further communication. Ignored rows get 0.
    /// </summary>
    /// <param name="logitsShard">The shard's logits [N, Vk], as given to <see cref="Compute"/>.</param>
    /// <param name="columnOffset">c_k: the full-vocabulary index of the shard's first column.</param>
    /// <param name="classes">V, the full vocabulary size.</param>
    /// <param name="targets">Targets [N] over the full vocabulary (or the ignore index).</param>
    /// <param name="states">Merged states [N], covering all V columns.</param>
    /// <param name="gradientShard">Destination [N, Vk]; may be exactly the shard's logits' memory (in place), or must not overlap them (nor any other input).</param>
    /// <param name="upstream">Upstream gradient of the loss (a loss scale); 1 for a plain loss.</param>
    /// <param name="options">The options the states were computed with; Reduction Mean or Sum (None throws: use the
    /// overload with per-row upstream gradients).</param>
    public static void Gradient(ReadOnlySpan<float> logitsShard, int columnOffset, int classes, ReadOnlySpan<int> targets,
        ReadOnlySpan<CrossEntropyShardState> states, Span<float> gradientShard, float upstream = 1f, CrossEntropyOptions? options = null)
    {
        var o = options ?? CrossEntropyOptions.Default;
        if (o.Reduction == Reduction.None)
        {
            throw new ArgumentException("Reduction.None has no single loss to differentiate: pass per-row upstream gradients.", nameof(options));
        }

        WriteGradient(logitsShard, columnOffset, classes, targets, states, default, upstream, gradientShard, o);
    }

    /// <summary>
    /// The shard's slice of d(sum_n g[n] r[n])/d(logits), r the per-row losses of <see cref="LossPerRow"/>: the
    /// backward of Reduction.None inside a caller's graph.
    /// </summary>
    /// <param name="logitsShard">The shard's logits [N, Vk].</param>
    /// <param name="columnOffset">c_k.</param>
    /// <param name="classes">V.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="states">Merged states [N], covering all V columns.</param>
    /// <param name="upstream">Upstream gradients g [N], one per row (ignored rows get 0 whatever g says).</param>
    /// <param name="gradientShard">Destination [N, Vk]; may be exactly the shard's logits' memory (in place), or must not overlap them (nor any other input).</param>
    /// <param name="options">The options the states were computed with; Reduction is not used.</param>
    public static void Gradient(ReadOnlySpan<float> logitsShard, int columnOffset, int classes, ReadOnlySpan<int> targets,
        ReadOnlySpan<CrossEntropyShardState> states, ReadOnlySpan<float> upstream, Span<float> gradientShard, CrossEntropyOptions? options = null)
    {
        var o = options ?? CrossEntropyOptions.Default;
        if (upstream.Length != targets.Length)
        {
            throw new ArgumentException($"upstream has {upstream.Length} entries but there are N = {targets.Length} rows.", nameof(upstream));
        }

        WriteGradient(logitsShard, columnOffset, classes, targets, states, upstream, 1f, gradientShard, o with { Reduction = Reduction.None });
    }

    // The kernel's formulas (ClassIndexRowGradient): K p[c] - C1 w[c] per column, then the target column in double.
    private static unsafe void WriteGradient(ReadOnlySpan<float> logitsShard, int columnOffset, int classes, ReadOnlySpan<int> targets,
        ReadOnlySpan<CrossEntropyShardState> states, ReadOnlySpan<float> rowUpstream, float upstream, Span<float> gradientShard, CrossEntropyOptions o)
    {
        int rows = targets.Length;
        int width = ShardWidth(logitsShard.Length, rows);
        CheckColumns(columnOffset, width, classes);
        Check(states, targets, classes, o);
        CrossEntropyChecks.Destination(gradientShard.Length, logitsShard.Length, nameof(gradientShard));
        fixed (float* x = logitsShard)
        fixed (float* gs = gradientShard)
        fixed (float* up = rowUpstream)
        fixed (float* w = o.ClassWeights.Span)
        fixed (int* y = targets)
        fixed (CrossEntropyShardState* st = states)
        {
            long bytes = (long)logitsShard.Length * sizeof(float);
            CrossEntropyChecks.InPlaceOrDisjoint(x, gs, logitsShard.Length, sizeof(float));
            CrossEntropyChecks.Disjoint(gs, bytes, nameof(gradientShard), up, (long)rowUpstream.Length * sizeof(float), "upstream");
            CrossEntropyChecks.Disjoint(gs, bytes, nameof(gradientShard), w, (long)o.ClassWeights.Length * sizeof(float), "options.ClassWeights");

            // Rows are written in turn: a later row's target or state under an earlier row's gradient was read overwritten.
            CrossEntropyChecks.Disjoint(gs, bytes, nameof(gradientShard), y, (long)rows * sizeof(int), nameof(targets));
            CrossEntropyChecks.Disjoint(gs, bytes, nameof(gradientShard), st, (long)rows * sizeof(CrossEntropyShardState), nameof(states));
        }

        var k = Constants(o, classes);
        var allWeights = o.ClassWeights.Span;
        var kept = KeptRows.Of(targets, o.IgnoreIndex, allWeights);

        var weights = o.LabelSmoothing > 0 && !allWeights.IsEmpty ? allWeights.Slice(columnOffset, width) : default;
        var widthNow = Simd.Width;

        // Out of place, large and without a soft cap (whose write is in place over the destination): streaming
        // stores, as the kernel's (CrossEntropyKernel.StreamsGradient, by the shard's row length: a store fence ends
        // each row here as in the kernel's row loop); the same values.
        bool stream = o.SoftCap == 0 && !logitsShard.Overlaps(gradientShard)
            && CrossEntropyKernel.StreamsGradient((long)logitsShard.Length * sizeof(float), width, widthNow, storesExponentials: false);
        for (int n = 0; n < rows; n++)
        {
            var g = gradientShard.Slice(n * width, width);
            int y = targets[n];
            if (y == o.IgnoreIndex)
            {
                g.Clear();
                continue;
            }

            (double a, double b) = kept.Scales(o.Reduction, o.Reduction == Reduction.None ? rowUpstream[n] : upstream);
            double wy = allWeights.IsEmpty ? 1.0 : allWeights[y];
            var terms = new ClassIndexRowGradient(k, a, b, wy, states[n].Parts);
            var c = terms.Coefficients();
            var row = logitsShard.Slice(n * width, width);
            for (int column = 0; column < width; column += CrossEntropyKernel.BlockColumns)
            {
                int length = Math.Min(CrossEntropyKernel.BlockColumns, width - column);
                ReadOnlySpan<float> z = row.Slice(column, length);
                var gBlock = g.Slice(column, length);
                if (o.SoftCap > 0)
                {
                    // The capped logits go straight into the destination (in place is fine), which the write turns
                    // into the gradient.
                    VectorMath.SoftCap(widthNow, z, gBlock, o.SoftCap);
                    z = gBlock;
                }

                GradientKernel.Write(widthNow, z, gBlock, c, weights.IsEmpty ? default : weights.Slice(column, length), default, stream);
            }

            if (stream)
            {
                StreamingStores.Fence(); // the target's ordinary store below, and the caller's reads, come after the row's streaming stores
            }

            int local = y - columnOffset;
            if ((uint)local < (uint)width)
            {
                g[local] = (float)terms.Target(states[n].TargetLogit);
            }
        }
    }

    private static RowLoss RowLossOf(in CrossEntropyShardState s, int y, CrossEntropyOptions o, in LossConstants k) =>
        y == o.IgnoreIndex ? default : RowLoss.ClassIndex(k, o.ClassWeights.IsEmpty ? 1.0 : o.ClassWeights.Span[y], s.Parts, s.TargetLogit, s.WeightedLogitSum);

    private static LossConstants Constants(CrossEntropyOptions o, int classes) =>
        LossConstants.Of(o.LabelSmoothing, classes, o.ClassWeights.Span, o.ZLoss, o.SoftCap);

    private static void Check(ReadOnlySpan<CrossEntropyShardState> states, ReadOnlySpan<int> targets, int classes, CrossEntropyOptions o)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        CrossEntropyChecks.Options(o, classes);
        CrossEntropyChecks.Targets(targets, classes, o.IgnoreIndex);
        if (states.Length != targets.Length)
        {
            throw new ArgumentException($"There are {states.Length} states but N = {targets.Length} targets.", nameof(states));
        }

        for (int n = 0; n < targets.Length; n++)
        {
            if (targets[n] != o.IgnoreIndex && !states[n].HasTarget)
            {
                throw new ArgumentException($"The state of row {n} has no target logit: merge the states of every shard first.", nameof(states));
            }
        }
    }

    // Row n's state written over a later row's logits or target was read overwritten.
    private static unsafe void CheckStatesDisjoint(ReadOnlySpan<CrossEntropyShardState> states, ReadOnlySpan<float> logitsShard, ReadOnlySpan<int> targets, ReadOnlySpan<float> weights)
    {
        fixed (CrossEntropyShardState* st = states)
        fixed (float* x = logitsShard)
        fixed (int* y = targets)
        fixed (float* w = weights)
        {
            long bytes = (long)states.Length * sizeof(CrossEntropyShardState);
            CrossEntropyChecks.Disjoint(st, bytes, nameof(states), x, (long)logitsShard.Length * sizeof(float), nameof(logitsShard));
            CrossEntropyChecks.Disjoint(st, bytes, nameof(states), y, (long)targets.Length * sizeof(int), nameof(targets));
            CrossEntropyChecks.Disjoint(st, bytes, nameof(states), w, (long)weights.Length * sizeof(float), "options.ClassWeights");
        }
    }

    private static void CheckColumns(int columnOffset, int width, int classes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        if (columnOffset < 0 || (long)columnOffset + width > classes)
        {
            throw new ArgumentOutOfRangeException(nameof(columnOffset), columnOffset, $"The shard's columns [{columnOffset}, {(long)columnOffset + width}) are not inside [0, {classes}).");
        }
    }

    private static int ShardWidth(int length, int rows)
    {
        if (rows == 0)
        {
            return length == 0
                ? 0
                : throw new ArgumentException($"There are no targets but the shard has {length} logits; with N = 0 rows the shard must be empty.", "logitsShard");
        }

        if (length % rows != 0)
        {
            throw new ArgumentException($"The shard's length {length} is not a multiple of the row count N = {rows}.", "logitsShard");
        }

        return length / rows;
    }
}
