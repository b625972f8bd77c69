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
        for (int n = start; n < end; n++)
        {
            int y = targets[n];
            bool keptRow = y != ignoreIndex;
            if (!keptRow && !logSumExpAsked)
            {
                FinishIgnored(n);
                continue;
            }

            nint at = RowOffset(n);
            var z = new ReadOnlySpan<float>(logits + at, classes);

            // Read before the statistics may store exponentials over it (in place). storeExps: a float gradient.
            float targetLogit = keptRow ? z[y] : 0f;
            var store = storeExps ? new Span<float>(gradient + at, classes) : default;
            var statistics = StatisticsKernel.Compute<TOps, TV>(z, weights, default, weightedLogits, store, prefetchNext: true, inverseCap: 0f);
            var state = RowAccumulator.Of(statistics);
            if (!HasGradient)
            {
                FinishLoss(n, keptRow, state, targetLogit, out _, out _);
                continue;
            }

            var row = FinishRow(n, state, targetLogit);
            WriteRowGradient(n, row, 0, 1, default, new ReadOnlySpan<BlockStatistics>(in statistics), next: n + 1 < end ? n + 1 : -1);
            FixTarget(n, row);
        }
    }
}
