using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using Xent.Baselines;

namespace Xent.Benchmarks;

/// <summary>
/// Warm-up past tiered compilation, for tools that time library calls. The kernels are compiled optimised from their
/// first call, but the per-call, per-row and per-block driver code around them starts at tier 0 and is promoted only
/// after 30 calls, counted once no method has been compiled for 100 ms. A tool that times its cases before that
/// measures tier-0 drivers: 5-25% slower than a user's steady calls (kernel-compute, one Zen 5 core).
/// </summary>
internal static class TierUp
{
    /// <summary>
    /// Runs every case in turn at least 40 times and for at least <paramref name="seconds"/>, with a pause for the
    /// background compile after the 40th round.
    /// </summary>
    public static void Warm(IReadOnlyList<Action> cases, double seconds = 1)
    {
        var clock = Stopwatch.StartNew();
        for (int round = 0; round < 40 || clock.Elapsed.TotalSeconds < seconds; round++)
        {
            foreach (var call in cases)
            {
                call();
            }

            if (round == 40)
            {
                Thread.Sleep(200);
            }
        }
    }

    /// <summary>
    /// As <see cref="Warm"/>, for cases too slow for 40 calls each: every case runs in turn until it has had 40 calls
    /// or <paramref name="capSeconds"/> of them, then a pause lets the background compilations finish. A case slower
    /// than a thirtieth of the cap keeps its once-per-call code at tier 0, which costs little against a call that long;
    /// its per-row, per-block and per-task code, called many times a call, has been promoted by then.
    /// </summary>
    public static void WarmCapped(IReadOnlyList<Action> cases, double capSeconds = 1.5)
    {
        var seconds = new double[cases.Count];
        var calls = new int[cases.Count];
        for (bool any = true; any;)
        {
            any = false;
            for (int i = 0; i < cases.Count; i++)
            {
                if (calls[i] < 40 && seconds[i] < capSeconds)
                {
                    long start = Stopwatch.GetTimestamp();
                    cases[i]();
                    seconds[i] += Stopwatch.GetElapsedTime(start).TotalSeconds;
                    calls[i]++;
                    any = true;
                }
            }
        }

        Thread.Sleep(300);
    }

    /// <summary>
    /// Warms the cases of one shape before its timed rounds as `xent bench` warms its own
    /// (<see cref="Timing.WarmInterleaved"/>: each case until steady, then all in turn until the JIT is quiet), at most
    /// <see cref="SecondsPerCase"/> a case. Every shape, not only the first: code a shape reaches that the shapes before
    /// did not starts at tier 0 (stream-compare, 1024 x 8192 after 256 x 8192 warmed: 18-21 methods compiled during its
    /// timed rounds). The turns warmed are the rounds' own, the clocks included, whose code would otherwise reach tier 1
    /// in the rounds.
    /// </summary>
    /// <param name="turns">Each case's turn in a round, as the rounds run it (its lead, its call and the clocks around it).</param>
    public static void UntilSteady(IReadOnlyList<Action> turns) => Timing.WarmInterleaved(turns, SecondsPerCase * turns.Count);

    /// <summary>
    /// The turns warmed until steady (<see cref="UntilSteady"/>), then <paramref name="rounds"/> rounds of every turn in
    /// order: what each turn returned (its time), round by round, and the JIT's compilations during the rounds.
    /// </summary>
    /// <param name="count">How many turns a round has.</param>
    /// <param name="rounds">Timed rounds.</param>
    /// <param name="turn">Turn c of a round, timed by itself.</param>
    public static (List<double>[] Times, string Jit) Rounds(int count, int rounds, Func<int, double> turn)
    {
        UntilSteady([.. Enumerable.Range(0, count).Select(c => (Action)(() => turn(c)))]);
        var times = Enumerable.Range(0, count).Select(_ => new List<double>()).ToArray();
        var jit = Compiled();
        for (int r = 0; r < rounds; r++)
        {
            for (int c = 0; c < count; c++)
            {
                times[c].Add(turn(c));
            }
        }

        return (times, CompiledSince(jit));
    }

    /// <summary>Warm-up time a case may take on average before the rounds start anyway (a case stays unsteady).</summary>
    private const double SecondsPerCase = 2;

    /// <summary>The methods the JIT has compiled in this process so far and its time on them (all threads).</summary>
    public static (long Methods, TimeSpan Time) Compiled() => (JitInfo.GetCompiledMethodCount(), JitInfo.GetCompilationTime());

    /// <summary>
    /// A line saying how many methods were compiled since <paramref name="start"/> (from <see cref="Compiled"/>): after
    /// a warm-up past tiered compilation, none or a handful, and no JIT time inside the timed rounds.
    /// </summary>
    public static string CompiledSince((long Methods, TimeSpan Time) start)
    {
        var (methods, time) = Compiled();
        return string.Create(CultureInfo.InvariantCulture, $"JIT during the timed rounds: {methods - start.Methods} methods, {(time - start.Time).TotalMilliseconds:F0} ms");
    }
}
