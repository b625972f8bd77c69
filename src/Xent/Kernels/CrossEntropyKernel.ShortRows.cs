using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Xent.Kernels;

/// <summary>
/// Short rows of float logits with class-index targets and no soft cap (loss, per-row losses, log-sum-exp and a float
/// gradient): each row is one block, so the same statistics, fold, finish and gradient write as <see cref="ProcessRow"/>
/// give the same bits, with the decisions that row after row would take again (element kind, soft cap, scratch,
/// probability targets) taken once per call. At a classifier's 10 or 32 classes those per-row decisions
/// cost about as much as the row's arithmetic.
/// </summary>
internal sealed unsafe partial class CrossEntropyKernel
{
    /// <summary>Longest row that takes <see cref="ShortRows"/>: beyond it the row's own arithmetic dominates.</summary>
    private const int ShortRowClasses = 1024;

    // Off for benchmarks (XENT_AB=noshort), to time the general loop.
    private static readonly bool ShortRowsEnabled = Environment.GetEnvironmentVariable("XENT_AB") != "noshort";

    private static readonly AsyncOverride<bool> ShortRowsOverride = new();

    /// <summary>For tests: short rows through <see cref="ShortRows"/> or not, for the calling flow (the bits are the same).</summary>
    public static AsyncOverride<bool>.Scope OverrideShortRows(bool on) => ShortRowsOverride.Set(on);

    // No scratch (float logits without a soft cap); a gradient in float, written with ordinary stores.
    private bool ShortRowsApply => (ShortRowsOverride.Value ?? ShortRowsEnabled) && classes <= ShortRowClasses && !scratchNeeded
        && !SoftTargets && request.Targets != null && (!HasGradient || (request.GradientElement == ElementKind.Single && !streamGradient));

    /// <summary>
    /// Rows [start, end) as <see cref="ProcessRow"/> runs them. Every row has the same length, so the statistics' width
    /// (<see cref="Widths.Fit"/>) is chosen once here, not per row, and the statistics inline into the row loop: with
    /// both, 2048 rows of 32 classes took 0.7x the time (one thread, Zen 4, 512 bits).
    /// </summary>
    private void ShortRows(int start, int end)
    {
        switch (Widths.Fit(request.Width, classes))
        {
            case VectorWidth.V512:
                ShortRows512(start, end);
                break;
            case VectorWidth.V256:
                ShortRows256(start, end);
                break;
            case VectorWidth.V128:
                ShortRows128(start, end);
                break;
            default:
                ShortRowsScalar(start, end);
                break;
        }
    }

    // One plain method per width, as StatisticsKernel.Compute has: only the width used is compiled.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ShortRows512(int start, int end) => ShortRows<Vector512Ops, Vector512<float>>(start, end);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ShortRows256(int start, int end) => ShortRows<Vector256Ops, Vector256<float>>(start, end);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ShortRows128(int start, int end) => ShortRows<Vector128Ops, Vector128<float>>(start, end);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ShortRowsScalar(int start, int end) => ShortRows<ScalarOps, float>(start, end);

    private void ShortRows<TOps, TV>(int start, int end)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        float* logits = (float*)request.Logits, gradient = (float*)request.Gradient;
        int* targets = request.Targets;
        bool weightedLogits = smoothing > 0f;
        var weights = weightedLogits ? WeightsAt(0, classes) : default;
        bool logSumExpAsked = request.LogSumExp != null;
        Span<BlockStatistics> statistics = stackalloc BlockStatistics[ShortRowBlock];
        Span<float> targetLogits = stackalloc float[ShortRowBlock];
        int block = Math.Clamp(ShortRowBlockFloats / classes, 1, ShortRowBlock);
        for (int first = start; first < end; first += block)
        {
            int last = Math.Min(end, first + block);
            for (int n = first; n < last; n++)
            {
                int y = targets[n];
                bool keptRow = y != ignoreIndex;
                if (!keptRow && !logSumExpAsked)
                {
                    continue;
                }

                nint at = RowOffset(n);
                var z = new ReadOnlySpan<float>(logits + at, classes);

                // Read before the statistics may store exponentials over it (in place). storeExps: a float gradient.
                targetLogits[n - first] = keptRow ? z[y] : 0f;
                var store = storeExps ? new Span<float>(gradient + at, classes) : default;
                statistics[n - first] = StatisticsKernel.Compute<TOps, TV>(z, weights, default, weightedLogits, store, prefetchNext: true, inverseCap: 0f);
            }

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

                var row = FinishRow(n, state, targetLogits[n - first]);
                WriteRowGradient(n, row, 0, 1, default, statistics.Slice(n - first, 1), next: n + 1 < last ? n + 1 : -1);
                FixTarget(n, row);
            }
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
