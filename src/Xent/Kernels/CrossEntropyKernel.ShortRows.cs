using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Xent.LinearAlgebra;

namespace Xent.Kernels;

/// <summary>
/// Short rows with class-index targets (loss, per-row losses, log-sum-exp and a gradient): each row is
/// one block, so the same statistics, fold, finish and gradient write as <see cref="ProcessRow"/> give the same bits,
/// with the decisions that row after row would take again (element kind, soft cap, scratch, probability targets)
/// taken once per call. At a classifier's 10 or 32 classes those per-row decisions cost about as much as the row's
/// arithmetic. Half and bfloat16 logits are widened a block of rows at a time into the thread's scratch, and the
/// float loop runs over that: the statistics of 16-bit logits are the float statistics of their widened values, bit
/// for bit (<see cref="StatisticsKernel"/>), and a 16-bit gradient's exponentials are stored over the widened row as
/// <see cref="BlockExponentials"/> stores them (a recomputing one is written from the widened row:
/// <see cref="WriteFromWidened"/>). Row by row, a 16-bit row's widening, statistics, write and narrowing
/// were calls of their own: bfloat16 <c>Loss</c> of 2048 x 10, 32 and 128 took 0.31, 0.37 and 0.62x that time here,
/// <c>LossAndGradient</c> in place 0.65, 0.62 and 0.77x (one Zen 5 core, 512 bits; docs/benchmarks.md). Soft-capped
/// rows take the row loop's statistics in the same two passes (<see cref="ShortRowsCapped"/>).
/// </summary>
internal sealed unsafe partial class CrossEntropyKernel
{
    /// <summary>Longest row that takes <see cref="ShortRows"/>: beyond it the row's own arithmetic dominates.</summary>
    internal const int ShortRowClasses = 1024;

    // Off for benchmarks (XENT_AB=noshort), to time the general loop.
    private static readonly bool ShortRowsEnabled = Environment.GetEnvironmentVariable("XENT_AB") != "noshort";

    private static readonly AsyncOverride<bool> ShortRowsOverride = new();

    /// <summary>For tests: short rows through <see cref="ShortRows"/> or not, for the calling flow (the bits are the same).</summary>
    public static AsyncOverride<bool>.Scope OverrideShortRows(bool on) => ShortRowsOverride.Set(on);

    // A gradient written with ordinary stores (a streamed one recomputes its exponentials, and fences); float logits
    // only with a float gradient (their 16-bit gradient would narrow through scratch, which uncapped float logits do
    // not take).
    private bool ShortRowsApply => (ShortRowsOverride.Value ?? ShortRowsEnabled) && classes <= ShortRowClasses
        && !SoftTargets && request.Targets != null
        && (!HasGradient || (!streamGradient && (request.GradientElement == ElementKind.Single || request.Element != ElementKind.Single)));

    /// <summary>
    /// Rows [start, end) as <see cref="ProcessRow"/> runs them. Every row has the same length, so the statistics' width
    /// (<see cref="Widths.Fit"/>) is chosen once here, not per row, and the statistics inline into the row loop: with
    /// both, 2048 rows of 32 classes took 0.7x the time (one thread, Zen 4, 512 bits).
    /// </summary>
    private void ShortRows(int start, int end)
    {
        if (cap > 0f)
        {
            ShortRowsCapped(start, end);
        }
        else if (request.Element == ElementKind.Single)
        {
            ShortRows<No>(start, end);
        }
        else
        {
            ShortRows<Yes>(start, end);
        }
    }

    // TWidened: 16-bit logits, whose block of rows is widened into scratch, one row after the other as in the logits,
    // and read there. A type, so that the float loop compiles without the widening's branches.
    private void ShortRows<TWidened>(int start, int end)
        where TWidened : struct, IConstant
    {
        switch (Widths.Fit(request.Width, classes))
        {
            case VectorWidth.V512:
                ShortRows512<TWidened>(start, end);
                break;
            case VectorWidth.V256:
                ShortRows256<TWidened>(start, end);
                break;
            case VectorWidth.V128:
                ShortRows128<TWidened>(start, end);
                break;
            default:
                ShortRowsScalar<TWidened>(start, end);
                break;
        }
    }

    // One method per width, as StatisticsKernel.Compute has: only the width used (and the element) is compiled.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ShortRows512<TWidened>(int start, int end)
        where TWidened : struct, IConstant => ShortRows<Vector512Ops, Vector512<float>, TWidened>(start, end);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ShortRows256<TWidened>(int start, int end)
        where TWidened : struct, IConstant => ShortRows<Vector256Ops, Vector256<float>, TWidened>(start, end);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ShortRows128<TWidened>(int start, int end)
        where TWidened : struct, IConstant => ShortRows<Vector128Ops, Vector128<float>, TWidened>(start, end);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ShortRowsScalar<TWidened>(int start, int end)
        where TWidened : struct, IConstant => ShortRows<ScalarOps, float, TWidened>(start, end);

    private void ShortRows<TOps, TV, TWidened>(int start, int end)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TWidened : struct, IConstant
    {
        bool widened = TWidened.Value;
        float* rowsWidened = widened ? Workspace.Current.Get(WorkspaceSlot.LogitsBlock, ShortRowBlockFloats) : null;
        float* gradient = (float*)request.Gradient;
        int* targets = request.Targets;
        bool weightedLogits = smoothing > 0f;
        var weights = weightedLogits ? WeightsAt(0, classes) : default;
        bool logSumExpAsked = request.LogSumExp != null;
        bool pairs = StatisticsKernel.Pairs<TOps, TV>(classes, weightedLogits);
        Span<BlockStatistics> statistics = stackalloc BlockStatistics[ShortRowBlock];
        Span<float> targetLogits = stackalloc float[ShortRowBlock];
        int block = Math.Clamp(ShortRowBlockFloats / classes, 1, ShortRowBlock);
        for (int first = start; first < end; first += block)
        {
            int last = Math.Min(end, first + block);
            float* logits = (float*)request.Logits + RowOffset(first);
            if (widened)
            {
                logits = rowsWidened;
                Widen((ushort*)request.Logits + RowOffset(first), new Span<float>(logits, (last - first) * classes));
            }

            int n = first;
            if (pairs)
            {
                // Two rows at a time where both are computed (see StatisticsKernel.Pair), else each as below.
                for (; n + 1 < last; n += 2)
                {
                    int ya = targets[n], yb = targets[n + 1];
                    if ((ya == ignoreIndex || yb == ignoreIndex) && !logSumExpAsked)
                    {
                        ShortRowStatistics<TOps, TV>(n, first, logits, gradient, weights, weightedLogits, widened, logSumExpAsked, statistics, targetLogits);
                        ShortRowStatistics<TOps, TV>(n + 1, first, logits, gradient, weights, weightedLogits, widened, logSumExpAsked, statistics, targetLogits);
                        continue;
                    }

                    float* za = logits + RowOffset(n - first), zb = za + classes;
                    targetLogits[n - first] = ya != ignoreIndex ? za[ya] : 0f;
                    targetLogits[n + 1 - first] = yb != ignoreIndex ? zb[yb] : 0f;
                    float* ea = ShortRowExps(n, first, logits, gradient, widened);
                    StatisticsKernel.Pair<TOps, TV>(za, zb, classes, ea, ea == null ? null : ea + classes, prefetch: !widened, ref statistics[n - first], ref statistics[n + 1 - first]);
                }
            }

            for (; n < last; n++)
            {
                ShortRowStatistics<TOps, TV>(n, first, logits, gradient, weights, weightedLogits, widened, logSumExpAsked, statistics, targetLogits);
            }

            if (HasGradient && PlainShortGradient)
            {
                FinishPlainShortRows<TOps, TV>(first, last, statistics, targetLogits, rowsWidened);
            }
            else
            {
                FinishShortRows(first, last, statistics, targetLogits, rowsWidened);
            }
        }
    }

    /// <summary>Row n's statistics in <see cref="ShortRows{TOps, TV, TWidened}"/>'s block from <paramref name="first"/>, unless it is ignored and they are not needed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ShortRowStatistics<TOps, TV>(int n, int first, float* logits, float* gradient, ReadOnlySpan<float> weights, bool weightedLogits, bool widened, bool logSumExpAsked, Span<BlockStatistics> statistics, Span<float> targetLogits)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        int y = request.Targets[n];
        bool keptRow = y != ignoreIndex;
        if (!keptRow && !logSumExpAsked)
        {
            return;
        }

        var z = new ReadOnlySpan<float>(logits + RowOffset(n - first), classes);

        // Read before the statistics may store exponentials over it (in place).
        targetLogits[n - first] = keptRow ? z[y] : 0f;
        float* exps = ShortRowExps(n, first, logits, gradient, widened);
        var store = exps == null ? default : new Span<float>(exps, classes);
        StatisticsKernel.Compute<TOps, TV>(ref statistics[n - first], z, weights, default, weightedLogits, store, prefetchNext: !widened, inverseCap: 0f);
    }

    /// <summary>
    /// Where row n's statistics store its exponentials in <see cref="ShortRows{TOps, TV, TWidened}"/>'s block from
    /// <paramref name="first"/>: a float gradient's row (storeExps); with a 16-bit gradient (exps16), over the row widened
    /// into <paramref name="logits"/>, the block's scratch; else nowhere (null).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private float* ShortRowExps(int n, int first, float* logits, float* gradient, bool widened) =>
        storeExps ? gradient + RowOffset(n) : widened && exps16 ? logits + RowOffset(n - first) : null;

    /// <summary>
    /// Soft-capped short rows: each row's statistics are the row loop's own (<see cref="Statistics"/>: widened, capped
    /// into scratch or the gradient, exponentials stored, through the same call: <see cref="FloatStatistics"/>, or
    /// <see cref="ScratchStatistics"/> where a 16-bit gradient keeps them), the row's place in a block of scratch its scratch; the finish pass is the
    /// uncapped loop's. The two passes gave 2048 x 10, 32, 128 float <c>Loss</c> 0.85, 0.76, 0.86x
    /// the time row by row and <c>LossAndGradient</c> 0.79, 0.79, 0.86x (one Zen 5 core, 512 bits; docs/benchmarks.md).
    /// A block's rows are widened and capped in one call each (<see cref="CapShortBlock"/>), not one call a row: float
    /// <c>Loss</c> 0.68, 0.88, 0.79x the time, <c>LossAndGradient</c> 0.79, 0.92, 0.90x, bfloat16 in place 0.70, 0.85,
    /// 0.91x (the same shapes and core; docs/benchmarks.md).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ShortRowsCapped(int start, int end)
    {
        float* rowsScratch = Workspace.Current.Get(WorkspaceSlot.LogitsBlock, ShortRowBlockFloats);
        int* targets = request.Targets;
        bool logSumExpAsked = request.LogSumExp != null;
        bool weightedLogits = smoothing > 0f;
        var weights = weightedLogits ? WeightsAt(0, classes) : default;
        Span<BlockStatistics> statistics = stackalloc BlockStatistics[ShortRowBlock];
        Span<float> targetLogits = stackalloc float[ShortRowBlock];
        int block = Math.Clamp(ShortRowBlockFloats / classes, 1, ShortRowBlock);
        for (int first = start; first < end; first += block)
        {
            int last = Math.Min(end, first + block);

            // Capped as its block's lanes cap it, read before the cap or the statistics may write over the rows (in place).
            for (int n = first; n < last; n++)
            {
                int y = targets[n];
                targetLogits[n - first] = y != ignoreIndex ? TargetLogit(n, y) : 0f;
            }

            float* capped = CapShortBlock(first, last, rowsScratch);
            for (int n = first; n < last; n++)
            {
                if (targets[n] == ignoreIndex && !logSumExpAsked)
                {
                    continue;
                }

                var z = new ReadOnlySpan<float>(capped + RowOffset(n - first), classes);
                var scratchRow = new Span<float>(rowsScratch + RowOffset(n - first), classes);
                statistics[n - first] = exps16
                    ? ScratchStatistics(z, weights, scratchRow)
                    : FloatStatistics(n, 0, z, weights, default, prefetchNext: false, recompute: false);
            }

            FinishShortRows(first, last, statistics, targetLogits, rowsScratch);
        }
    }

    /// <summary>
    /// Rows [first, last) widened (16-bit logits) into <paramref name="rowsScratch"/> and capped, all in one call each,
    /// where <see cref="Statistics"/> puts each row's capped logits: apart from the exponentials that a 16-bit gradient
    /// stores over the widened rows (<see cref="BlockExponentials"/>), into a float gradient that stores none
    /// (<see cref="LoadBlock"/>), else into the scratch. Returns where they are. The same bits as row by row: the
    /// cap is lane-wise, at the width a row takes (the vector widths' exponentials agree on one machine, the
    /// scalar lanes' MathF.Exp does not).
    /// </summary>
    private float* CapShortBlock(int first, int last, float* rowsScratch)
    {
        int length = (last - first) * classes;
        nint at = RowOffset(first);
        float* source = (float*)request.Logits + at;
        bool widened = request.Element != ElementKind.Single;
        if (widened)
        {
            source = rowsScratch;
            Widen((ushort*)request.Logits + at, new Span<float>(rowsScratch, length));
        }

        float* capped = exps16 ? Workspace.Current.Get(WorkspaceSlot.ExponentialsBlock, ShortRowBlockFloats)
            : capInGradient && !storeExps ? (float*)request.Gradient + at
            : rowsScratch;
        VectorMath.SoftCap(Widths.Fit(request.Width, classes), new ReadOnlySpan<float>(source, length), new Span<float>(capped, length), cap,
            prefetch: !widened && !capInGradient);
        return capped;
    }

    /// <summary>
    /// The second pass over a block of short rows [first, last): each row's log-sum-exp, loss and gradient from its
    /// statistics. <paramref name="rowsScratch"/>: the block's rows widened (or capped) in scratch, one after the other,
    /// or null; a 16-bit gradient's exponentials (<see cref="rowExps"/>) or the room its general write narrows from.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void FinishShortRows(int first, int last, ReadOnlySpan<BlockStatistics> statistics, ReadOnlySpan<float> targetLogits, float* rowsScratch)
    {
        int* targets = request.Targets;
        bool logSumExpAsked = request.LogSumExp != null;
        for (int n = first; n < last; n++)
        {
            bool keptRow = targets[n] != ignoreIndex;
            if (!keptRow && !logSumExpAsked)
            {
                FinishIgnored(n);
                continue;
            }

            var state = RowAccumulator.Of(statistics[n - first]);
            if (!HasGradient)
            {
                FinishLoss(n, keptRow, state, targetLogits[n - first], out _, out _);
                continue;
            }

            var rowScratch = rowsScratch != null ? new Span<float>(rowsScratch + RowOffset(n - first), classes) : default;
            var row = FinishRow(n, state, targetLogits[n - first]);
            if (row.Kept && WritesFromWidened)
            {
                WriteFromWidened(n, row, rowScratch);
            }
            else
            {
                WriteRowGradient(n, row, 0, 1, rowScratch, statistics.Slice(n - first, 1), next: n + 1 < last ? n + 1 : -1);
            }

            FixTarget(n, row);
        }
    }

    // A gradient of K p - onehot alone (no soft cap, no label smoothing's C1 w), of float logits into a float gradient, or
    // of bfloat16 logits into a bfloat16 gradient from the exponentials stored over the widened rows: see
    // FinishPlainShortRows.
    private bool PlainShortGradient => cap == 0f && smoothing == 0f
        && (request.Element == ElementKind.Single ? request.GradientElement == ElementKind.Single
            : request.Element == ElementKind.BFloat16 && request.GradientElement == ElementKind.BFloat16 && exps16 && rowExps);

    /// <summary>
    /// <see cref="FinishShortRows"/> where <see cref="PlainShortGradient"/>, the row's gradient written straight by the
    /// kernel that <see cref="WriteRowGradient"/> comes to at the width the rows take (<see cref="WritePlainShortRow"/>).
    /// </summary>
    private void FinishPlainShortRows<TOps, TV>(int first, int last, ReadOnlySpan<BlockStatistics> statistics, ReadOnlySpan<float> targetLogits, float* rowsWidened)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        int* targets = request.Targets;
        bool logSumExpAsked = request.LogSumExp != null;

        // Recomputing the exponentials (512 bits, 16 classes and more): every row's outputs and coefficients first,
        // then every row's gradient. A row's log, coefficients, write and target fix follow one another, and one row's
        // took more instructions than the core looks ahead, so the next row's log waited for them; in two passes
        // LossAndGradient of 2048 x 128 took 0.85x the time, of 2048 x 32 0.90x (ce-calls, one Zen 5 core). Where the statistics
        // stored the exponentials (a division and a scale a row) the two passes took 1.0-1.3x the time of one, and that
        // loop stays. FinishRow reads only the statistics and the target logit, not the row (which an in-place write
        // replaces).
        if (!storeExps && !exps16)
        {
            Span<RowGradient> finished = stackalloc RowGradient[ShortRowBlock];
            for (int n = first; n < last; n++)
            {
                if (targets[n] == ignoreIndex && !logSumExpAsked)
                {
                    FinishIgnored(n);
                    continue;
                }

                finished[n - first] = FinishRowInline(n, RowAccumulator.Of(statistics[n - first]), targetLogits[n - first]);
            }

            for (int n = first; n < last; n++)
            {
                if (targets[n] != ignoreIndex || logSumExpAsked)
                {
                    WritePlainShortRow<TOps, TV>(n, finished[n - first], statistics.Slice(n - first, 1), null);
                }
            }

            return;
        }

        for (int n = first; n < last; n++)
        {
            if (targets[n] == ignoreIndex && !logSumExpAsked)
            {
                FinishIgnored(n);
                continue;
            }

            var row = FinishRow(n, RowAccumulator.Of(statistics[n - first]), targetLogits[n - first]);
            WritePlainShortRow<TOps, TV>(n, row, statistics.Slice(n - first, 1), rowsWidened == null ? null : rowsWidened + RowOffset(n - first));
        }
    }

    /// <summary>
    /// A short row's gradient and target fix where <see cref="PlainShortGradient"/>: its exponentials scaled where the
    /// statistics stored them (<see cref="BlockScale"/>'s scale; C1 is 0 without label smoothing), else K exp(z - lse)
    /// recomputed, by the kernels and with the arguments <see cref="WriteRowGradient"/> would pass them, so the same
    /// bits; a scale or K beyond float's range takes <see cref="WriteRowGradient"/>. A bfloat16 row's exponentials are
    /// at <paramref name="widenedExps"/> (over its widened logits in the block's scratch), else it is null.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void WritePlainShortRow<TOps, TV>(int n, in RowGradient row, ReadOnlySpan<BlockStatistics> statistics, float* widenedExps)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        if (!row.Kept)
        {
            ZeroGradient(n, 0, classes);
            return;
        }

        if (widenedExps != null || storeExps)
        {
            // The exponentials the statistics stored: in the gradient (float), or over the widened row (bfloat16, rowExps),
            // rounded to bfloat16 as they are scaled.
            var scale = BlockScale(row, statistics[0], wholeRow: classes <= BlockColumns);
            if (scale.Scale != 0f)
            {
                WriteRowGradient(n, row, 0, 1, widenedExps == null ? default : new Span<float>(widenedExps, classes), statistics);
            }
            else if (widenedExps != null)
            {
                GradientKernel.ScaleToBFloat16<TOps, TV>(new ReadOnlySpan<float>(widenedExps, classes), ref *(byte*)((ushort*)request.Gradient + RowOffset(n)), scale.Value);
            }
            else
            {
                var g = new Span<float>((float*)request.Gradient + RowOffset(n), classes);
                GradientKernel.Scale<TOps, TV, SingleLanes<TOps, TV>, OrdinaryStores, No>(g, ref Unsafe.As<float, byte>(ref g[0]), scale.Value, 0f, default);
            }
        }
        else if (row.Coefficients.KScale == 0f)
        {
            GradientKernel.WritePlain<TOps, TV, OrdinaryStores>(new ReadOnlySpan<float>((float*)request.Logits + RowOffset(n), classes),
                new Span<float>((float*)request.Gradient + RowOffset(n), classes), row.Coefficients, null);
        }
        else
        {
            WriteRowGradient(n, row, 0, 1, default, statistics);
        }

        FixTarget(n, row);
    }

    // 16-bit logits whose gradient recomputes its exponentials: the block's widened row is still intact in scratch
    // (nothing was stored over it), the same floats the general write would widen again. Writing from it took bfloat16
    // LossAndGradient of 2048 x 32 and 128 0.93 and 0.97x the time (one Zen 5 core, 512 bits; docs/benchmarks.md).
    // Capped, with a 16-bit gradient (its exponentials not kept: label smoothing, or recomputed), the scratch holds the
    // row capped by CapShortBlock, what the general write would widen and cap again: bfloat16 and Half with soft cap 30
    // and smoothing 0.1, 2048 x 10, 32, 128, took 0.84-0.87x, 0.87-0.94x and 0.85-0.94x the time (512 bits and AVX2 only).
    // Not capped with a float gradient: the capped row is in the gradient there (capInGradient), the scratch's only widened.
    private bool WritesFromWidened => request.Element != ElementKind.Single && !exps16 && !storeExps && (cap == 0f || request.GradientElement != ElementKind.Single);

    /// <summary>
    /// A kept row's gradient from its logits widened (and capped) in the block's scratch, which <see cref="WriteRowGradient"/>'s
    /// general write would widen (and cap) again from the 16-bit logits: the same float values, so the same bits (a plain
    /// 16-bit gradient rounded as each vector is stored, another 16-bit one written over the widened row and narrowed,
    /// a float one written straight).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void WriteFromWidened(int n, in RowGradient row, Span<float> z)
    {
        var weights = SmoothingWeights(row, 0, classes);

        // A plain 16-bit gradient is rounded as each vector is stored, not written as floats and narrowed after:
        // bfloat16 LossAndGradient of 2048 x 32 and 128 took 0.94 and 0.92-0.94x the time (one Zen 5 core, 512 bits;
        // docs/benchmarks.md).
        if (request.GradientElement == ElementKind.Single)
        {
            GradientKernel.Write(request.Width, z, new Span<float>((float*)request.Gradient + RowOffset(n), classes), row.Coefficients, weights, default);
        }
        else if (!weights.IsEmpty || !GradientKernel.TryWritePlain(request.Width, z, request.GradientElement, (ushort*)request.Gradient + RowOffset(n), row.Coefficients))
        {
            GradientKernel.Write(request.Width, z, z, row.Coefficients, weights, default);
            Narrow(z, (ushort*)request.Gradient + RowOffset(n));
        }
    }

    /// <summary>
    /// Most rows per block of <see cref="ShortRows"/>, which takes every row's statistics first and then every row's
    /// finish (its log-sum-exp, a libm log, its loss and its gradient): a row's max, sum, log and gradient follow one
    /// another, and row after row the next row's statistics waited on them; in two passes the rows of a pass are
    /// independent, and the core overlaps them. Each row's arithmetic is unchanged, and so are its bits. 2048 rows of
    /// 10, 32 and 128 classes took 0.70-0.75x, 0.75-0.78x and 0.83-0.92x the time of <c>Loss</c> row by row, and
    /// 0.70-0.74x, 0.67-0.71x and 0.73-0.79x that of <c>LossAndGradient</c> (one Zen 5 core, 512 bits; AVX2 only:
    /// 0.71-0.73x, 0.60-0.87x, 0.84-0.89x and 0.74-0.81x, 0.65-0.79x, 0.81-0.88x).
    /// </summary>
    private const int ShortRowBlock = 32;

    // At most this many logits a block (16 KB), so that the second pass finds them in L1: 32 rows of 1024 classes
    // (128 KB, from L2) made LossAndGradient at 2048 x 1024 1.03-1.15x the time of the loop row by row.
    private const int ShortRowBlockFloats = 4096;
}
