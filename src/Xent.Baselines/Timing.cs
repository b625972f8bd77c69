using System.Diagnostics;

namespace Xent.Baselines;

/// <summary>Wall-clock timings of one case, in seconds, taken after the case was warmed until its time was steady.</summary>
/// <param name="Seconds">The timed runs.</param>
public sealed record Timing(double[] Seconds)
{
    /// <summary>The median run.</summary>
    public double Median => Quantile(0.5);

    /// <summary>The fastest run.</summary>
    public double Min => Seconds.Min();

    /// <summary>The slowest run.</summary>
    public double Max => Seconds.Max();

    /// <summary>
    /// Runs <paramref name="action"/> until it is steady, then times up to <paramref name="iterations"/> runs (fewer
    /// once <paramref name="capSeconds"/> have passed, never fewer than 3 or than asked when it is short).
    /// Steady: the last three warm-up runs are within 10% of each other, after at least 40 runs and 0.3 s. The first
    /// calls of .NET code run unoptimised or half-optimised (tiered compilation); timing them measures the compiler,
    /// not the code.
    /// </summary>
    /// <param name="action">The case.</param>
    /// <param name="iterations">Timed runs wanted (at least 1).</param>
    /// <param name="capSeconds">Time after which warm-up and timing stop early.</param>
    /// <param name="minSampleSeconds">
    /// Shortest span of one timed sample: a run shorter than this is timed as a batch of runs, the sample being the
    /// batch's mean (see <see cref="RunsPerSample"/>); 0 times each run alone.
    /// </param>
    /// <returns>The timed runs.</returns>
    public static Timing Measure(Action action, int iterations, double capSeconds, double minSampleSeconds = 0) =>
        MeasureOn(TimingSources.System, action, iterations, capSeconds, minSampleSeconds);

    /// <summary><see cref="Measure(Action, int, double, double)"/> on the clock and compile count of <paramref name="sources"/>.</summary>
    internal static Timing MeasureOn(TimingSources sources, Action action, int iterations, double capSeconds, double minSampleSeconds)
    {
        ArgumentNullException.ThrowIfNull(action);
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(minSampleSeconds);
        long total = sources.Timestamp();
        WarmUp(action, sources, total, capSeconds);
        int runs = RunsPerSampleOn(sources, action, minSampleSeconds);
        var times = new List<double>(iterations);
        total = sources.Timestamp();
        for (int i = 0; i < iterations; i++)
        {
            times.Add(Time(action, runs, sources));

            // Slow cases (the scalar baseline on big shapes) stop early, but never below 3 runs.
            if (times.Count >= 3 && sources.SecondsSince(total) > capSeconds)
            {
                break;
            }
        }

        return new Timing([.. times]);
    }

    /// <summary>
    /// Times several cases side by side: each is warmed until steady as <see cref="Measure"/> does, then up to
    /// <paramref name="iterations"/> rounds run every case once, in turn, so that a machine shared with other
    /// programs slows them all alike (never fewer than 3 rounds, fewer than asked once <paramref name="capSeconds"/>
    /// have passed).
    /// </summary>
    /// <param name="actions">The cases.</param>
    /// <param name="iterations">Rounds wanted (at least 1).</param>
    /// <param name="capSeconds">Time after which warm-up and timing stop early.</param>
    /// <param name="minSampleSeconds">
    /// Shortest span of one timed sample: a case whose run is shorter runs a batch of runs in its turn, its sample
    /// being the batch's mean (see <see cref="RunsPerSample"/>); 0 times each run alone.
    /// </param>
    /// <param name="leads">
    /// Per case, an action run untimed before each of its turns (and before it in the rounds that wait for the
    /// compiler), or null for none; null runs no lead at all. A <see cref="PoolLead"/> before the cases that use the
    /// pool's worker hands them the worker awake whatever ran before; never put one before a case on threads of its own
    /// (a one-thread limit), where the worker left spinning would take a core from it.
    /// </param>
    /// <returns>Each case's timed runs, in the order given.</returns>
    public static Timing[] Interleaved(IReadOnlyList<Action> actions, int iterations, double capSeconds, double minSampleSeconds = 0, IReadOnlyList<Action?>? leads = null) =>
        InterleavedOn(TimingSources.System, actions, iterations, capSeconds, minSampleSeconds, leads);

    /// <summary>
    /// <see cref="Interleaved(IReadOnlyList{Action}, int, double, double, IReadOnlyList{Action?}?)"/> on the clock and
    /// compile count of <paramref name="sources"/>.
    /// </summary>
    internal static Timing[] InterleavedOn(TimingSources sources, IReadOnlyList<Action> actions, int iterations, double capSeconds, double minSampleSeconds,
        IReadOnlyList<Action?>? leads)
    {
        ArgumentNullException.ThrowIfNull(actions);
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(minSampleSeconds);
        if (leads is not null && leads.Count != actions.Count)
        {
            throw new ArgumentException($"{leads.Count} leads for {actions.Count} cases.", nameof(leads));
        }

        WarmSideBySide(sources, actions, capSeconds, leads);
        int[] runs = [.. actions.Select(a => RunsPerSampleOn(sources, a, minSampleSeconds))];
        var times = actions.Select(_ => new List<double>(iterations)).ToArray();
        long total = sources.Timestamp();
        for (int i = 0; i < iterations; i++)
        {
            for (int a = 0; a < actions.Count; a++)
            {
                leads?[a]?.Invoke();
                times[a].Add(Time(actions[a], runs[a], sources));
            }

            if (i >= 2 && sources.SecondsSince(total) > capSeconds)
            {
                break;
            }
        }

        return [.. times.Select(t => new Timing([.. t]))];
    }

    /// <summary>
    /// Warms several cases as <see cref="Interleaved"/> does before its rounds, for a tool that times its rounds itself
    /// (thread CPU time, its own order): each case until it is steady, then all of them in turn, each after its lead,
    /// until no method has been compiled for a while. Code a shape reaches that another did not (other row counts,
    /// other paths) starts at tier 0 too, so each shape is warmed before its rounds, not only the first.
    /// </summary>
    /// <param name="actions">The cases.</param>
    /// <param name="maxSeconds">Time after which warm-up stops early (each case still runs at least 3 times).</param>
    /// <param name="leads">Per case, an action run untimed before it in the rounds in turn, or null for none; null runs no lead at all.</param>
    public static void WarmInterleaved(IReadOnlyList<Action> actions, double maxSeconds, IReadOnlyList<Action?>? leads = null) =>
        WarmInterleavedOn(TimingSources.System, actions, maxSeconds, leads);

    /// <summary>
    /// <see cref="WarmInterleaved(IReadOnlyList{Action}, double, IReadOnlyList{Action?}?)"/> on the clock and compile
    /// count of <paramref name="sources"/>.
    /// </summary>
    internal static void WarmInterleavedOn(TimingSources sources, IReadOnlyList<Action> actions, double maxSeconds, IReadOnlyList<Action?>? leads)
    {
        ArgumentNullException.ThrowIfNull(actions);
        ArgumentOutOfRangeException.ThrowIfNegative(maxSeconds);
        if (leads is not null && leads.Count != actions.Count)
        {
            throw new ArgumentException($"{leads.Count} leads for {actions.Count} cases.", nameof(leads));
        }

        // Interleaved warms for half of its cap (the rest is its rounds'): the whole of maxSeconds here.
        WarmSideBySide(sources, actions, 2 * maxSeconds, leads);
    }

    /// <summary>
    /// Each case warmed up in turn, then all of them round by round until the JIT has been quiet for a while, or until
    /// half of <paramref name="capSeconds"/> has passed since the start.
    /// </summary>
    private static void WarmSideBySide(TimingSources sources, IReadOnlyList<Action> actions, double capSeconds, IReadOnlyList<Action?>? leads)
    {
        long total = sources.Timestamp();
        foreach (var action in actions)
        {
            WarmUp(action, sources, total, capSeconds);
        }

        // Then all of them in turn until no method has been compiled for a while: a case warmed first can have methods
        // still counting their calls towards tier 1 while the next case warms, and they would tier up during the
        // timed rounds (xent bench, 2048 x 32 on 2 threads: some processes timed every Loss call at 0.3 ms against
        // 0.09 ms once its per-row code was optimised).
        var jit = new JitWatch(sources, sources.Timestamp());
        while (jit.QuietFor < JitQuietSeconds && sources.SecondsSince(total) < capSeconds / 2)
        {
            for (int a = 0; a < actions.Count; a++)
            {
                leads?[a]?.Invoke();
                actions[a]();
            }

            jit.Update();
        }
    }

    /// <summary>
    /// Runs the case at least 3 times, then until it is warm (<see cref="Warm"/>) or the time since
    /// <paramref name="total"/> has passed half of <paramref name="capSeconds"/>.
    /// </summary>
    private static void WarmUp(Action action, TimingSources sources, long total, double capSeconds)
    {
        var warm = new List<double>();
        long started = sources.Timestamp();
        var jit = new JitWatch(sources, started);
        while (warm.Count < 3 || (!Warm(warm, sources.SecondsSince(started), jit) && sources.SecondsSince(total) < capSeconds / 2))
        {
            warm.Add(Time(action, 1, sources));
            jit.Update();
        }
    }

    // The mean of `runs` back-to-back runs.
    private static double Time(Action action, int runs, TimingSources sources)
    {
        long start = sources.Timestamp();
        for (int i = 0; i < runs; i++)
        {
            action();
        }

        // The end read before any other call: a first call of SecondsSince would time its own compilation.
        long end = sources.Timestamp();
        return Stopwatch.GetElapsedTime(start, end).TotalSeconds / runs;
    }

    /// <summary>Most runs in one sample: a case that stays below the shortest sample even so is timed as it is.</summary>
    private const int MaxRunsPerSample = 1 << 20;

    /// <summary>
    /// How many back-to-back runs of a warm case one sample needs to span <paramref name="minSampleSeconds"/>: 1 for a
    /// case at least that long. The clock ticks every 10-100 ns on the VMs this runs on, so one read of a few hundred
    /// bytes (xent bench --rows 4 --vocab 8) timed 0 ticks, and its bandwidth came out infinite; a batch spanning
    /// thousands of ticks resolves the mean of its runs to a fraction of a percent.
    /// </summary>
    /// <param name="action">The case, warm.</param>
    /// <param name="minSampleSeconds">Shortest span of a sample; 0 for one run per sample.</param>
    /// <returns>Runs per sample, at least 1.</returns>
    public static int RunsPerSample(Action action, double minSampleSeconds) => RunsPerSampleOn(TimingSources.System, action, minSampleSeconds);

    private static int RunsPerSampleOn(TimingSources sources, Action action, double minSampleSeconds)
    {
        ArgumentNullException.ThrowIfNull(action);
        ArgumentOutOfRangeException.ThrowIfNegative(minSampleSeconds);
        int runs = 1;
        while (minSampleSeconds > 0 && runs < MaxRunsPerSample)
        {
            double span = Time(action, runs, sources) * runs;
            if (span >= minSampleSeconds)
            {
                break;
            }

            // Aim past the minimum (the next batch may run faster), and grow at least 2x and at most 1000x per try.
            double factor = span > 0 ? Math.Clamp(2 * minSampleSeconds / span, 2, 1000) : 1000;
            runs = (int)Math.Min(MaxRunsPerSample, Math.Ceiling(runs * factor));
        }

        return runs;
    }

    /// <summary>
    /// Warm-up runs past which a case's methods have left tier 0: tiered compilation promotes a method after 30
    /// calls, counted once no new method has been compiled for 100 ms. Until then the kernels' per-row and per-block
    /// driver code runs unoptimised and a steady time can still be 5-25% high (kernel-compute, one Zen 5 core).
    /// </summary>
    private const int TierUpRuns = 40;

    /// <summary>Least warm-up time, for the same reason (the 100 ms call-counting delay, and the background compile).</summary>
    private const double TierUpSeconds = 0.3;

    /// <summary>
    /// Warm-up runs after which an unsteady case (a noisy machine) is timed anyway, once past <see cref="TierUpSeconds"/>:
    /// a cap on runs alone stopped calls of 0.1 ms after 10 ms, at tier 0 (2048 x 32: 0.52 ms a call against 0.12
    /// once optimised).
    /// </summary>
    private const int MaxWarmRuns = 100;

    /// <summary>
    /// Seconds without a JIT compilation in the process before a case counts as warm: tiered compilation promotes
    /// methods in batches, 100 ms after the last new one, and compiles them on a background thread that takes one of
    /// the cores from the timed calls (xent bench, 2048 x 10 on 2 cores: a first case timed at 0.23-0.29 ms a call
    /// for half its runs against 0.12 ms once compilation had settled). The quiet before a batch can be longer than
    /// that delay: `Loss` at 2048 x 32 on 2 threads (Zen 4, 2026-12-03) compiled nothing from 145 to 270 ms while its
    /// per-row code still ran unoptimised (0.17-0.20 ms a call against 0.09-0.11 from 325 ms on).
    /// </summary>
    private const double JitQuietSeconds = 0.4;

    /// <summary>
    /// Past tier-up (<see cref="TierUpSeconds"/>, <see cref="JitQuietSeconds"/>) and steady over at least
    /// <see cref="TierUpRuns"/> runs, or unsteady after <see cref="MaxWarmRuns"/>.
    /// </summary>
    private static bool Warm(List<double> times, double elapsedSeconds, JitWatch jit) =>
        elapsedSeconds >= TierUpSeconds && jit.QuietFor >= JitQuietSeconds
        && ((Steady(times) && times.Count >= TierUpRuns) || times.Count >= MaxWarmRuns);

    /// <summary>When the process's count of JIT-compiled methods last changed, on a warm-up's clock.</summary>
    private sealed class JitWatch(TimingSources sources, long start)
    {
        private long count = sources.CompiledMethods();
        private double changedAt;

        /// <summary>Seconds since the last compilation seen.</summary>
        public double QuietFor => sources.SecondsSince(start) - changedAt;

        public void Update()
        {
            long now = sources.CompiledMethods();
            if (now != count)
            {
                count = now;
                changedAt = sources.SecondsSince(start);
            }
        }
    }

    private static bool Steady(List<double> times)
    {
        var last = times.TakeLast(3).ToArray();
        return last.Max() <= 1.1 * last.Min();
    }

    private double Quantile(double q)
    {
        var s = Seconds.Order().ToArray();
        double pos = q * (s.Length - 1);
        int lo = (int)Math.Floor(pos), hi = (int)Math.Ceiling(pos);
        return s[lo] + ((s[hi] - s[lo]) * (pos - lo));
    }
}
