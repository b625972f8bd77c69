namespace Xent.Kernels;

/// <summary>
/// The forward alone (loss, per-row losses, log-sum-exp) of short rows of float logits: each row is one block, the
/// same statistics, fold and finish as <see cref="ProcessRow"/>, so the same bits, with the decisions that row after
/// row would take again (element kind, soft cap, scratch, probability targets) taken once per call. At a classifier's
/// 10 or 32 classes those per-row decisions cost about as much as the row's arithmetic.
/// </summary>
internal sealed unsafe partial class CrossEntropyKernel
{
    /// <summary>Longest row that takes <see cref="ForwardShortRows"/>: beyond it the row's own arithmetic dominates.</summary>
    private const int ShortRowClasses = 1024;

    // Off for benchmarks (XENT_AB=noshort), to time the general loop.
    private static readonly bool ShortRowsEnabled = Environment.GetEnvironmentVariable("XENT_AB") != "noshort";

    private static readonly AsyncOverride<bool> ShortRowsOverride = new();

    /// <summary>For tests: short rows through <see cref="ForwardShortRows"/> or not, for the calling flow (the bits are the same).</summary>
    public static AsyncOverride<bool>.Scope OverrideShortRows(bool on) => ShortRowsOverride.Set(on);

    // No scratch: float logits without a soft cap.
    private bool ShortRowsApply => (ShortRowsOverride.Value ?? ShortRowsEnabled) && !HasGradient && classes <= ShortRowClasses && !scratchNeeded
        && !SoftTargets && request.Targets != null;

    /// <summary>Rows [start, end) as <see cref="ProcessRow"/> runs them without a gradient.</summary>
    private void ForwardShortRows(int start, int end)
    {
        float* logits = (float*)request.Logits;
        int* targets = request.Targets;
        bool weightedLogits = smoothing > 0f;
        var weights = weightedLogits ? WeightsAt(0, classes) : default;
        var width = request.Width;
        bool logSumExpAsked = request.LogSumExp != null;
        for (int n = start; n < end; n++)
        {
            int y = targets[n];
            if (y == ignoreIndex && !logSumExpAsked)
            {
                FinishIgnored(n);
                continue;
            }

            var z = new ReadOnlySpan<float>(logits + RowOffset(n), classes);
            var state = RowAccumulator.Empty;
            state.Add(StatisticsKernel.Compute(width, z, weights, default, weightedLogits, default, prefetchNext: true));
            FinishRow(n, state, y == ignoreIndex ? 0f : z[y]);
        }
    }
}
