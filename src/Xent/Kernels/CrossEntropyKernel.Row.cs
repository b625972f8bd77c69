using System.Runtime.CompilerServices;
using Xent.LinearAlgebra;

namespace Xent.Kernels;

/// <summary>The per-row and per-block steps every partition runs.</summary>
internal sealed unsafe partial class CrossEntropyKernel
{
    private int BlockCount => (classes + BlockColumns - 1) / BlockColumns;

    /// <summary>
    /// The calling thread's scratch (a Half, bfloat16 or soft-capped block; a whole row of exponentials for a bfloat16
    /// or Half gradient), or empty when the logits are read in place.
    /// </summary>
    private Span<float> Scratch() => scratchNeeded ? Workspace.Current.Get<float>(WorkspaceSlot.LogitsBlock, rowExps ? classes : BlockColumns) : default;

    /// <summary>The calling thread's block of float exponentials, for a block whose write pass recomputes them by the forward's own loop (<see cref="WriteRecomputed"/>).</summary>
    private static Span<float> ExpsBlock() => Workspace.Current.Get<float>(WorkspaceSlot.ExponentialsBlock, BlockColumns);

    /// <summary>The calling thread's room for one row's block statistics.</summary>
    private Span<BlockStatistics> RowBlockStatistics() => Workspace.Current.Get<BlockStatistics>(WorkspaceSlot.BlockStatistics, BlockCount);

    private nint RowOffset(int n) => (nint)n * classes;

    /// <summary>
    /// Blocks shorter than this (16 KB of floats) are capped into scratch, not the gradient, where their exponentials
    /// are stored times the cap's derivative: the capped logits then stay for a confident block's second sum, and
    /// the blocks are in L1 either way (2048 x 200, one Zen 4 core: the same time; the lanes' test of
    /// <see cref="VectorMath.SoftCapMayLead"/> that longer blocks take was 1.07x there).
    /// </summary>
    private const int ShortCappedBlock = 4096;

    /// <summary>
    /// The block's (soft-capped) logits as floats: the logits themselves, a converted copy in scratch, or (soft cap,
    /// float gradient) the capped logits written into the gradient's block, where the write pass finds them.
    /// </summary>
    private ReadOnlySpan<float> LoadBlock(int n, int column, int length, Span<float> scratch)
    {
        nint at = RowOffset(n) + column;
        ReadOnlySpan<float> z;
        if (request.Element != ElementKind.Single)
        {
            z = Widen((ushort*)request.Logits + at, scratch.Slice(0, length));
        }
        else
        {
            z = new ReadOnlySpan<float>((float*)request.Logits + at, length);
        }

        if (cap > 0f)
        {
            var s = capInGradient && !(storeExps && length < ShortCappedBlock) ? new Span<float>((float*)request.Gradient + at, length) : scratch.Slice(0, length);
            // Prefetched for the loss alone (2048 x 32000, 2 threads, soft cap 30: 14.8 -> 9.2-10.3 ms); where the capped
            // logits go into the gradient the same prefetch measured slower (17.4-18.1 -> 20.0-21.0 ms).
            bool prefetch = request.Element == ElementKind.Single && !capInGradient;
            if (!storeExps || length < ShortCappedBlock)
            {
                VectorMath.SoftCap(request.Width, z, s, cap, prefetch);
            }
            else if (VectorMath.SoftCapMayLead(request.Width, z, s, cap, prefetch))
            {
                // A block that one logit may lead 16 to 1 is summed again with it apart (StatisticsKernel's Dominated
                // and LeadLaneApart), from capped logits that the stored products did not overwrite: such a block's
                // are copied to scratch (free once the cap is taken) and read from there. Only such blocks: capping
                // every block into scratch, or into both, took 1.15-1.25x the time (512 x 32000 out of place, one
                // Zen 4 core).
                s.CopyTo(scratch);
                s = scratch.Slice(0, length);
            }

            z = s;
        }

        return z;
    }

    /// <summary>The call's 16-bit logits widened to float (<see cref="Widening"/>).</summary>
    private ReadOnlySpan<float> Widen(ushort* logits, Span<float> s)
    {
        Widening.Widen(request.Width, request.Element, ref *(byte*)logits, s);
        return s;
    }

    /// <summary>A float gradient block narrowed to the call's 16-bit gradient (apart and optimised, as the kernels).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private void Narrow(ReadOnlySpan<float> s, ushort* gradient)
    {
        if (request.GradientElement == ElementKind.Half)
        {
            // Rounded in registers as the stored Half gradients are (HalfBits.Narrow): a product by 1 is exact, and the
            // NaN it quiets narrows to the same bits (the conversion quiets them too).
            GradientKernel.Scale(request.Width, s, new Span<Half>(gradient, s.Length), 1f);
        }
        else
        {
            BFloat16.ConvertToBFloat16(s, new Span<BFloat16>(gradient, s.Length));
        }
    }

    /// <summary>The block as the write pass needs it: where the forward left the capped logits, else loaded again.</summary>
    private ReadOnlySpan<float> BlockForGradient(int n, int column, int length, Span<float> scratch) =>
        capInGradient ? new ReadOnlySpan<float>((float*)request.Gradient + RowOffset(n) + column, length) : LoadBlock(n, column, length, scratch);

    /// <summary>1 / s under a soft cap s, else 0 (what the exp pass takes to store each exponential times the cap's derivative).</summary>
    private float InverseSoftCap => cap > 0f ? 1f / cap : 0f;

    /// <summary>The class weights of label smoothing's C1 w term in a row's block (empty for all 1, or without smoothing).</summary>
    private ReadOnlySpan<float> SmoothingWeights(in RowGradient row, int column, int length) => row.UseWeights ? WeightsAt(column, length) : default;

    private ReadOnlySpan<float> WeightsAt(int column, int length) =>
        request.Weights == null ? default : new ReadOnlySpan<float>(request.Weights + column, length);

    private ReadOnlySpan<float> ProbabilitiesAt(int n, int column, int length) =>
        SoftTargets ? new ReadOnlySpan<float>(request.Probabilities + RowOffset(n) + column, length) : default;

    /// <param name="n">The row.</param>
    /// <param name="block">The block within the row.</param>
    /// <param name="scratch">Block scratch (Half, bfloat16 or soft cap), or empty.</param>
    private BlockStatistics Statistics(int n, int block, Span<float> scratch)
    {
        int column = block * BlockColumns, length = Math.Min(BlockColumns, classes - column);
        bool weightedLogits = smoothing > 0f;
        if (exps16)
        {
            return BlockExponentials(n, column, length, ExpsScratch(column, length, scratch));
        }

        if (request.Element != ElementKind.Single && cap == 0f && !storeExps && !SoftTargets)
        {
            // Widened as the statistics loop loads them: half the bytes of float read once, no copy written.
            return Statistics16(n, column, length, weightedLogits, scratch);
        }

        if (request.Element == ElementKind.BFloat16 && storeExps && cap == 0f && smoothing == 0f && StoredStatistics16(n, column, length, scratch, out var stored))
        {
            return stored;
        }

        bool weighted = weightedLogits || SoftTargets;
        return FloatStatistics(n, column, LoadBlock(n, column, length, scratch), weighted ? WeightsAt(column, length) : default, ProbabilitiesAt(n, column, length),
            prefetchNext: !scratchNeeded, recompute: recomputeStored);
    }

    /// <summary>
    /// A plain float gradient's statistics of a block of bfloat16 logits, read in place by the single pass and widened
    /// in registers, its exponentials stored into the gradient's block (or, streamed, none: the write pass recomputes
    /// them), bitwise <see cref="FloatStatistics"/> of the widened block; false for a block the single pass does not
    /// take, which is widened into scratch and goes there. Widened into scratch first, every block was read from memory
    /// by a loop with nothing to compute and then again from scratch.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool StoredStatistics16(int n, int column, int length, Span<float> scratch, out BlockStatistics statistics)
    {
        nint at = RowOffset(n) + column;
        var exps = recomputeStored ? default : new Span<float>((float*)request.Gradient + at, length);
        return StatisticsKernel.TryComputeStored(request.Width, new ReadOnlySpan<BFloat16>((BFloat16*)request.Logits + at, length), exps, scratch, out statistics);
    }

    /// <summary>
    /// The statistics of float block <paramref name="z"/> (loaded, widened or capped) of row <paramref name="n"/> from
    /// <paramref name="column"/>, with the block's class weights and target probabilities (or empty): its exponentials
    /// (products under a soft cap) stored into the gradient's block when the forward stores them and the write pass
    /// does not <paramref name="recompute"/> them. Serves the row loop (<see cref="Statistics"/>) and soft-capped short
    /// rows (<see cref="ShortRowsCapped"/>: no prefetch, as the block is in scratch; never recomputed, no
    /// probabilities), so that the two make the same call and give the same bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private BlockStatistics FloatStatistics(int n, int column, ReadOnlySpan<float> z, ReadOnlySpan<float> weights, ReadOnlySpan<float> probabilities, bool prefetchNext, bool recompute)
    {
        var store = !storeExps || recompute ? default : new Span<float>((float*)request.Gradient + RowOffset(n) + column, z.Length);
        return StatisticsKernel.Compute(request.Width, z, weights, probabilities, smoothing > 0f, store, prefetchNext, InverseSoftCap, storedStatistics: storeExps);
    }

    /// <summary>The plain statistics of a block of 16-bit logits read in place (apart, as <see cref="Widen"/>, so that float logits compile without it).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private BlockStatistics Statistics16(int n, int column, int length, bool weightedLogits, Span<float> scratch)
    {
        nint at = RowOffset(n) + column;
        var weights = weightedLogits ? WeightsAt(column, length) : default;
        return request.Element == ElementKind.Half
            ? StatisticsKernel.Compute(request.Width, new ReadOnlySpan<Half>((Half*)request.Logits + at, length), weights, weightedLogits, scratch, prefetchNext: true)
            : StatisticsKernel.Compute(request.Width, new ReadOnlySpan<BFloat16>((BFloat16*)request.Logits + at, length), weights, weightedLogits, scratch, prefetchNext: true);
    }

    /// <summary>
    /// A 16-bit block widened into scratch (at the block's place in a kept row, else at its start; plain bfloat16 by its
    /// max pass), then its exponentials over it in place, as the float path stores them; returns its statistics. Under
    /// a soft cap the widened block is capped in place first and each exponential is stored times the cap's derivative,
    /// and under label smoothing the max pass also sums w z: the steps the float path takes over its gradient's block.
    /// </summary>
    private BlockStatistics BlockExponentials(int n, int column, int length, Span<float> e)
    {
        ushort* logits = (ushort*)request.Logits + RowOffset(n) + column;
        // Half blocks are widened first, then the float pass: Half's widening in the single pass (7 instructions and 4
        // constants a vector, bfloat16's 1) took Half LossAndGradient in place 1.02, 1.07 and 1.18-1.34x the time at
        // 512, 256 bits and AVX2 only (one Zen 4 core, 2026-12-07, kernel-compute 16 50257).
        if (request.Element == ElementKind.BFloat16 && cap == 0f && smoothing == 0f)
        {
            return StatisticsKernel.ComputeWithExponentials(request.Width, new ReadOnlySpan<BFloat16>(logits, length), e);
        }

        Widen(logits, e);
        ReadOnlySpan<float> z = e;
        if (cap > 0f)
        {
            // As in LoadBlock: a short block, and a block that one logit may lead, keep their capped logits apart from
            // the stored products.
            var apart = ExpsBlock().Slice(0, length);
            if (length < ShortCappedBlock)
            {
                VectorMath.SoftCap(request.Width, e, apart, cap);
                z = apart;
            }
            else if (VectorMath.SoftCapMayLead(request.Width, e, e, cap))
            {
                e.CopyTo(apart);
                z = apart;
            }
        }

        return ScratchStatistics(z, smoothing > 0f ? WeightsAt(column, length) : default, e);
    }

    /// <summary>
    /// The statistics of float block <paramref name="z"/> (widened, capped) of 16-bit logits whose gradient keeps their
    /// exponentials (products under a soft cap) in scratch <paramref name="e"/>, with the block's class weights under
    /// label smoothing (or empty). Serves the row loop (<see cref="BlockExponentials"/>) and soft-capped short rows
    /// (<see cref="ShortRowsCapped"/>), so that the two make the same call and give the same bits, as
    /// <see cref="FloatStatistics"/> does for a float gradient.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private BlockStatistics ScratchStatistics(ReadOnlySpan<float> z, ReadOnlySpan<float> weights, Span<float> e) =>
        StatisticsKernel.Compute(request.Width, z, weights, default, smoothing > 0f, e, inverseCap: InverseSoftCap);

    /// <summary>Where a 16-bit block's exponentials go in the block scratch: at the block's place in a kept row, else at its start.</summary>
    private Span<float> ExpsScratch(int column, int length, Span<float> scratch) => scratch.Slice(rowExps ? column : 0, length);

    /// <summary>The target's logit, read before an in-place forward can overwrite it (0 where there is none).</summary>
    private float TargetLogitBeforeWrites(int n) =>
        !SoftTargets && Kept(n) ? TargetLogit(n, request.Targets[n]) : 0f;

    /// <summary>One row start to end on one thread: forward, then (while the row is in L2) its gradient.</summary>
    /// <param name="n">The row.</param>
    /// <param name="scratch">Block scratch (Half, bfloat16 or soft cap), or empty.</param>
    /// <param name="blockStatistics">Room for the row's block statistics.</param>
    /// <param name="next">The row this thread processes next, or -1 (<see cref="GroupedRows"/>).</param>
    private void ProcessRow(int n, Span<float> scratch, Span<BlockStatistics> blockStatistics, int next)
    {
        if (!NeedsForward(n))
        {
            FinishIgnored(n);
            return;
        }

        // Read before the gradient's writes over the row (in place), but without a gradient after the forward: at the
        // row's start it is one load from memory ahead of the streamed logits, a stall per row (2048 x 50257 Loss on 2
        // threads: 2.3-2.7% of the CPU time in TargetLogit, perf, Zen 4; 0.01-0.02% read after).
        float targetLogit = HasGradient ? TargetLogitBeforeWrites(n) : 0f;
        var state = RowAccumulator.Empty;
        int blocks = BlockCount;
        for (int b = 0; b < blocks; b++)
        {
            blockStatistics[b] = Statistics(n, b, scratch);
            state.Add(blockStatistics[b]);
        }

        if (!HasGradient)
        {
            targetLogit = TargetLogitBeforeWrites(n);
        }

        var row = FinishRow(n, state, targetLogit);
        if (HasGradient)
        {
            // Found before the write pass overwrites the logits (in place).
            var dominant = SoftTargets ? FindDominant(n, state, blockStatistics, scratch) : default;
            WriteRowGradient(n, row, 0, blocks, scratch, blockStatistics, next);
            if (streamGradient)
            {
                StreamingStores.Fence(); // the target's ordinary store lands after the row's streaming ones
            }

            FixTarget(n, row);
            FixDominant(n, row, dominant);
        }
    }

    /// <summary>
    /// The multiplier of a block's stored exponentials exp(z - block max): K exp(max - lse); of those the single pass
    /// stored, 2^(z log2 e - m): K 2^(m - lse log2 e). K carries exp(float(lse) - lse) for the exp(z - float(lse)) of
    /// the other paths: taken out again here. A block of -inf holds exps of 0
    /// against the stand-in shift 0, whose exp(0 - lse) overflows when lse is far below 0 (a row of -inf and one
    /// -2e38): its p are 0, unless lse is NaN.
    /// </summary>
    /// <remarks>
    /// Beyond float's range (K's z-loss term at lse near float.MaxValue) as a float and a power of two applied after
    /// it (<see cref="WideMultiplier"/>, <see cref="ApplyPowerOfTwo"/>), so that stored exponentials of 0 give 0, not inf x 0.
    /// </remarks>
    private static WideMultiplier BlockScale(in RowGradient row, in BlockStatistics block, bool wholeRow)
    {
        float max = block.Max;
        if (max == float.NegativeInfinity && !float.IsNaN(row.Coefficients.LogSumExp))
        {
            return default;
        }

        if (wholeRow && !block.ShiftInPowersOfTwo && max != float.NegativeInfinity)
        {
            // The row's only block, its exponentials exp(z - m) and their sum s: p = exp(z - m) / s, so the scale is
            // K / s, which exp(m - lse) with lse = m + log s stands for, without the exps in double of that and of
            // lse's rounding to float (in K): 0.89-0.90x the time of a gradient of 2048 rows of 32 classes (one Zen 4
            // core, 512 and 256 bits), and the scale without their rounding.
            return WideMultiplier.Of(row.Multiplier / block.Sum);
        }

        if (block.ShiftInPowersOfTwo)
        {
            // 2^(m - lse log2 e) with the float log2 e the exponentials were computed with, so that the product is
            // 2^((z - lse) log2 e): that constant's error (3e-9 relative) then scales z - lse, not z (1e-5 at z = 4000).
            return WideMultiplier.Of(row.Coefficients.ExactK * double.Exp2(block.Shift - (row.Coefficients.LogSumExp * (double)ExpConstants.Log2E)));
        }

        float shift = max == float.NegativeInfinity ? 0f : max;
        return WideMultiplier.Of(row.Coefficients.ExactK * Math.Exp(shift - row.Coefficients.LogSumExp));
    }

    /// <summary>
    /// The second step of a block whose scale is beyond float's range: g = (scale' e) 2^j - C1 w over the (scale' e)
    /// that <see cref="GradientKernel.Scale(VectorWidth, ReadOnlySpan{float}, Span{float}, float, bool, float, ReadOnlySpan{float})"/>
    /// wrote with offset 0, each step rounded as that write rounds e scale - C1 w. Such rows are rare (z-loss at lse near
    /// float.MaxValue): plain scalar code.
    /// </summary>
    private static void ApplyPowerOfTwo(Span<float> g, float factor, float offset, ReadOnlySpan<float> weights)
    {
        for (int i = 0; i < g.Length; i++)
        {
            g[i] = (g[i] * factor) - (weights.IsEmpty ? offset : offset * weights[i]);
        }
    }

    /// <summary>An ignored row without log-sum-exp output: loss 0 (its row terms too), gradient 0.</summary>
    private void FinishIgnored(int n)
    {
        StoreLoss(n, default);

        if (HasGradient)
        {
            ZeroGradient(n, 0, classes);
        }
    }

    /// <summary>The next row's block at <paramref name="column"/>, for the write pass to bring into L2 (float logits), or null.</summary>
    private byte* Ahead(int next, int column) =>
        next < 0 || !GroupedRows || request.Element != ElementKind.Single ? null : (byte*)((float*)request.Logits + RowOffset(next) + column);

    private void WriteRowGradient(int n, in RowGradient row, int firstBlock, int endBlock, Span<float> scratch, ReadOnlySpan<BlockStatistics> blockStatistics, int next = -1)
    {
        int from = firstBlock * BlockColumns, to = Math.Min(endBlock * BlockColumns, classes);
        if (!row.Kept)
        {
            ZeroGradient(n, from, to - from);
            return;
        }

        if (storeExps || exps16)
        {
            for (int b = firstBlock; b < endBlock; b++)
            {
                int column = b * BlockColumns, length = Math.Min(BlockColumns, classes - column);
                var wide = BlockScale(row, blockStatistics[b], wholeRow: classes <= BlockColumns);
                float scale = wide.Value;
                if (exps16)
                {
                    // Not kept: the same exponentials again (the block is not written yet), bitwise as the forward's.
                    // Recomputed only for split rows and rows over RowExpsMaxClasses: short rows keep theirs (rowExps).
                    var e = ExpsScratch(column, length, scratch);
                    if (!rowExps)
                    {
                        BlockExponentials(n, column, length, e);
                    }

                    ushort* at = (ushort*)request.Gradient + RowOffset(n) + column;
                    if (wide.Scale != 0f)
                    {
                        // Beyond float's range: scaled in the scratch, times the power of two, then narrowed.
                        GradientKernel.Scale(request.Width, e, e, scale);
                        ApplyPowerOfTwo(e, wide.Scale, row.Coefficients.C1, SmoothingWeights(row, column, length));
                        Narrow(e, at);
                    }
                    else if (request.GradientElement == ElementKind.BFloat16)
                    {
                        // Streamed only from a whole row of exponentials in scratch (rowExps).
                        GradientKernel.Scale(request.Width, e, new Span<BFloat16>((BFloat16*)at, length), scale, streamGradient && rowExps, row.Coefficients.C1, SmoothingWeights(row, column, length));
                    }
                    else
                    {
                        GradientKernel.Scale(request.Width, e, new Span<Half>((Half*)at, length), scale, streamGradient && rowExps, row.Coefficients.C1, SmoothingWeights(row, column, length));
                    }

                    continue;
                }

                var g = new Span<float>((float*)request.Gradient + RowOffset(n) + column, length);
                if (recomputeStored)
                {
                    WriteRecomputed(n, column, blockStatistics[b], wide, g, scratch, Ahead(next, column));
                }
                else if (wide.Scale != 0f)
                {
                    GradientKernel.Scale(request.Width, g, g, scale);
                    ApplyPowerOfTwo(g, wide.Scale, row.Coefficients.C1, SmoothingWeights(row, column, length));
                }
                else
                {
                    GradientKernel.Scale(request.Width, g, g, scale, stream: false, row.Coefficients.C1, SmoothingWeights(row, column, length));
                }
            }

            return;
        }

        for (int b = firstBlock; b < endBlock; b++)
        {
            int column = b * BlockColumns, length = Math.Min(BlockColumns, classes - column);
            nint at = RowOffset(n) + column;
            var z = BlockForGradient(n, column, length, scratch);
            var weights = SmoothingWeights(row, column, length);
            if (request.GradientElement != ElementKind.Single)
            {
                // A plain one rounded as each vector is stored; else z is already the scratch copy: the float gradient
                // written over it, then narrowed once.
                if (!weights.IsEmpty || SoftTargets || !GradientKernel.TryWritePlain(request.Width, z, request.GradientElement, (ushort*)request.Gradient + at, row.Coefficients))
                {
                    var s = scratch.Slice(0, length);
                    GradientKernel.Write(request.Width, z, s, row.Coefficients, weights, ProbabilitiesAt(n, column, length));
                    Narrow(s, (ushort*)request.Gradient + at);
                }
            }
            else
            {
                GradientKernel.Write(request.Width, z, new Span<float>((float*)request.Gradient + at, length), row.Coefficients, weights, ProbabilitiesAt(n, column, length), streamGradient, Ahead(next, column));
            }
        }
    }

    /// <summary>
    /// A block of a <see cref="recomputeStored"/> gradient, streamed: the exponentials the forward would have stored,
    /// recomputed and scaled (<see cref="GradientKernel.WriteShifted"/>); where the forward's single pass handed over to
    /// the two-pass loop (or never ran), that loop's exponentials, computed again by the same code into scratch and
    /// scaled from there: the same bits either way.
    /// </summary>
    /// <remarks>
    /// A scale beyond float's range (<see cref="WideMultiplier"/>) is written with ordinary stores and widened after:
    /// the bits of the stored path's <see cref="ApplyPowerOfTwo"/>.
    /// </remarks>
    private void WriteRecomputed(int n, int column, in BlockStatistics block, WideMultiplier scale, Span<float> gradient, Span<float> scratch, byte* ahead)
    {
        var z = BlockForGradient(n, column, gradient.Length, scratch);
        bool wide = scale.Scale != 0f;
        if (block.ShiftInPowersOfTwo)
        {
            GradientKernel.WriteShifted(request.Width, z, gradient, block.Shift, scale.Value, stream: !wide, ahead);
        }
        else
        {
            var e = ExpsBlock().Slice(0, z.Length);
            StatisticsKernel.Compute(request.Width, z, default, default, weightedLogits: false, e);
            GradientKernel.Scale(request.Width, e, gradient, scale.Value, stream: !wide);
        }

        if (wide)
        {
            ApplyPowerOfTwo(gradient, scale.Scale, 0f, default);
        }
    }

    private void ZeroGradient(int n, int column, int length)
    {
        nint at = RowOffset(n) + column;
        if (request.GradientElement != ElementKind.Single)
        {
            new Span<ushort>((ushort*)request.Gradient + at, length).Clear(); // +0 in Half and bfloat16 alike
        }
        else
        {
            new Span<float>((float*)request.Gradient + at, length).Clear();
        }
    }

    /// <summary>
    /// Rewrites the target column of a class-index row in double: p - 1 there must not lose the small difference
    /// to the rounding of K p - K in float. (A probability-target row's leading column: <see cref="FixDominant"/>.)
    /// </summary>
    private void FixTarget(int n, in RowGradient row)
    {
        if (!row.Kept || SoftTargets)
        {
            return;
        }

        int y = request.Targets[n];
        double g = Terms(row.A, row.B, row.TargetWeight, row.LogSumExp, row.LogSumExpUpstream).Target(row.TargetLogit);
        nint at = RowOffset(n) + y;
        if (request.GradientElement == ElementKind.Half)
        {
            ((Half*)request.Gradient)[at] = (Half)g;
        }
        else if (request.GradientElement == ElementKind.BFloat16)
        {
            ((BFloat16*)request.Gradient)[at] = (BFloat16)g;
        }
        else
        {
            ((float*)request.Gradient)[at] = (float)g;
        }
    }
}
