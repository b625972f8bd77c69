using System.Diagnostics;
using Xent.Baselines;

namespace Xent.Benchmarks;

/// <summary>
/// The rounds of <c>stream-compare</c> and <c>recompute-compare</c>: each round every Xent case in turn, then the copy
/// and in-place methods that led (<see cref="LimitReruns.CopyAndInPlaceLeaders"/>), on the same buffers. A Xent case's
/// turn is its reset (untimed: an in-place case's logits copied back), an untimed <see cref="PoolLead"/> (a copy on one
/// thread outlasts the pool worker's spin; never before a limit, which a spinning worker would slow), then its call;
/// thread CPU time on one thread, wall time on more. The turns are warmed until steady first, the clocks in them too,
/// for every shape (a later shape's rounds would compile what only it reaches).
/// </summary>
internal static class CopyLimitRounds
{
    /// <param name="cases">Xent's cases: the call timed, and what comes before it untimed.</param>
    /// <param name="logits">The source of the copies.</param>
    /// <param name="gradient">Their destination.</param>
    /// <param name="rankedCopies">Every copy method, timed (<see cref="MemoryLimits.QuickRanked"/>).</param>
    /// <param name="threads">Xent's threads.</param>
    /// <param name="rounds">Timed rounds.</param>
    /// <returns>Each Xent case's times (ms), the copy and in-place limits (the fastest median of every method:
    /// <see cref="LimitReruns.FastestCopyAndInPlace"/>), the leaders rerun, and the JIT's compilations during the rounds.</returns>
    public static (List<double>[] Times, MemoryLimit Copy, MemoryLimit InPlace, IReadOnlyList<MemoryLimit> Leaders, string Jit) Run(
        IReadOnlyList<(Action Call, Action Reset)> cases, float[] logits, float[] gradient, IReadOnlyList<MemoryLimit> rankedCopies, int threads, int rounds)
    {
        var leaders = LimitReruns.CopyAndInPlaceLeaders(rankedCopies);
        (Action Call, Action Reset)[] turns = [.. cases, .. LimitReruns.Copies(leaders, logits, gradient).Select(a => (a, (Action)(() => { })))];
        var lead = PoolLead.Wake(threads);
        double Turn(int c)
        {
            turns[c].Reset();
            if (c < cases.Count)
            {
                lead();
            }

            double cpu = CpuTime.ThreadMilliseconds();
            var clock = Stopwatch.StartNew();
            turns[c].Call();
            return threads == 1 ? CpuTime.ThreadMilliseconds() - cpu : clock.Elapsed.TotalMilliseconds;
        }

        var (times, jitLine) = TierUp.Rounds(turns.Length, rounds, Turn);
        var (copy, inPlace) = LimitReruns.FastestCopyAndInPlace(rankedCopies, leaders,
            [.. times[cases.Count..].Select(t => new Timing([.. t.Select(ms => ms / 1e3)]))], logits.Length * 8L);
        return (times[..cases.Count], copy, inPlace, leaders, jitLine);
    }

    /// <summary>A limit as the tools print it: median (range) in ms, the method and its threads.</summary>
    public static string Show(MemoryLimit limit) =>
        $"{limit.Timing.Median * 1e3:F2} ({limit.Timing.Min * 1e3:F2}-{limit.Timing.Max * 1e3:F2}), {limit.Method} x{limit.Threads}";
}
