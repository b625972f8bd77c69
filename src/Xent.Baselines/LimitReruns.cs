namespace Xent.Baselines;

/// <summary>
/// The fastest few read (copy) methods of a ranking (<see cref="MemoryLimits.Ranked"/>), run again beside the kernel
/// they bound, round by round, and the limit taken as the fastest of all of them. Which method is fastest changes with
/// the host's state: on a Zen 4 VM whose memory moves between two speeds, a prefetching read was the fastest when the
/// limits were measured and 9-17% slower than a plain one minutes later, so with that one method beside it `xent bench`
/// printed `Loss` at 116% of the limit. `xent bench` and the bench tools that hold a kernel against a limit use this.
/// </summary>
public static class LimitReruns
{
    /// <summary>How many of the fastest methods run again beside a kernel.</summary>
    public const int Methods = 3;

    /// <summary>The first <see cref="Methods"/> of a ranking, to run again.</summary>
    /// <param name="ranked">Limits, fastest first.</param>
    /// <returns>At most <see cref="Methods"/> limits.</returns>
    public static IReadOnlyList<MemoryLimit> Leaders(IReadOnlyList<MemoryLimit> ranked)
    {
        ArgumentNullException.ThrowIfNull(ranked);
        return [.. ranked.Take(Methods)];
    }

    /// <summary>
    /// For a tool that times kernels both out of place and in place beside one set of copy methods: the fastest few of
    /// every read + write method (the in-place limit's) and of the copies between two buffers (the copy limit's,
    /// <see cref="MemoryLimits.OutOfPlace"/>), each method once.
    /// </summary>
    /// <param name="rankedCopies">Copy limits, fastest first, <see cref="CopyMethod.InPlace"/> among them.</param>
    /// <returns>The methods to run again.</returns>
    public static IReadOnlyList<MemoryLimit> CopyAndInPlaceLeaders(IReadOnlyList<MemoryLimit> rankedCopies) =>
        [.. Leaders(rankedCopies).Concat(Leaders(MemoryLimits.OutOfPlace(rankedCopies))).Distinct()];

    /// <summary>The methods and their threads, for a tool's output: "InPlace x2; NonTemporalStores, prefetch 2 KB x1".</summary>
    /// <param name="leaders">Limits.</param>
    /// <returns>One line.</returns>
    public static string Describe(IEnumerable<MemoryLimit> leaders)
    {
        ArgumentNullException.ThrowIfNull(leaders);
        return string.Join("; ", leaders.Select(l => $"{l.Method} x{l.Threads}"));
    }

    /// <summary>Each leader's read of <paramref name="source"/>, on its threads.</summary>
    /// <param name="leaders">Read limits (<see cref="Leaders"/>).</param>
    /// <param name="source">The buffer read (touched).</param>
    /// <returns>One action per leader.</returns>
    public static Action[] Reads(IReadOnlyList<MemoryLimit> leaders, ReadOnlyMemory<float> source)
    {
        ArgumentNullException.ThrowIfNull(leaders);
        return [.. leaders.Select(l => (Action)(() => MemoryLimits.Read(source, l.Threads, l.How)))];
    }

    /// <summary>Each leader's copy of <paramref name="source"/> into <paramref name="destination"/>, on its threads.</summary>
    /// <param name="leaders">Copy limits (<see cref="Leaders"/>).</param>
    /// <param name="source">The buffer read (touched).</param>
    /// <param name="destination">The buffer written (touched, at least as long).</param>
    /// <returns>One action per leader.</returns>
    public static Action[] Copies(IReadOnlyList<MemoryLimit> leaders, ReadOnlyMemory<float> source, Memory<float> destination)
    {
        ArgumentNullException.ThrowIfNull(leaders);
        return [.. leaders.Select(l => (Action)(() => MemoryLimits.Copy(source, destination, l.Threads, l.How)))];
    }

    /// <summary>
    /// The fastest of <paramref name="ranked"/> and of the leaders' runs beside the kernel (limits of different sizes
    /// compare by bytes per second, as <see cref="MemoryLimits.Faster"/> does).
    /// </summary>
    /// <param name="ranked">The ranking the leaders came from (possibly measured on other buffers).</param>
    /// <param name="leaders">The methods run again.</param>
    /// <param name="reruns">Their timings beside the kernel, in the leaders' order.</param>
    /// <param name="bytes">Bytes each rerun moved.</param>
    /// <returns>The limit.</returns>
    public static MemoryLimit Fastest(IReadOnlyList<MemoryLimit> ranked, IReadOnlyList<MemoryLimit> leaders, IReadOnlyList<Timing> reruns, long bytes)
    {
        ArgumentNullException.ThrowIfNull(ranked);
        ArgumentNullException.ThrowIfNull(leaders);
        ArgumentNullException.ThrowIfNull(reruns);
        if (reruns.Count != leaders.Count)
        {
            throw new ArgumentException($"{reruns.Count} timings for {leaders.Count} methods.", nameof(reruns));
        }

        var limit = ranked.Aggregate((MemoryLimit?)null, MemoryLimits.Faster);
        for (int i = 0; i < leaders.Count; i++)
        {
            limit = MemoryLimits.Faster(limit, leaders[i] with { Timing = reruns[i], Bytes = bytes });
        }

        return limit ?? throw new ArgumentException("No limit given.", nameof(ranked));
    }

    /// <summary>
    /// Times <paramref name="kernel"/> interleaved round by round (<see cref="Timing.Interleaved"/>) with the fastest few
    /// of <paramref name="limits"/> (<see cref="Leaders"/>), each run again by <paramref name="runs"/> on the kernel's
    /// own buffers, and returns the kernel's timing and the limit (<see cref="Fastest"/>). The kernel's turn follows the
    /// last limit's, which on one thread outlasts the pool worker's spin: <paramref name="kernelLead"/> (a
    /// <see cref="PoolLead"/>) runs untimed before the kernel's turns. A limit on more than one thread that follows a
    /// one-thread limit would pay the worker's wake-up alone and come out slower than it is (every share of the limit
    /// flatter to the kernel): <paramref name="limitLead"/> runs untimed before its turns. No lead ever runs before a
    /// one-thread limit, where a worker left spinning would take a core from it and favour the kernel.
    /// </summary>
    /// <param name="kernel">The kernel, a pool user.</param>
    /// <param name="limits">Limits, fastest first.</param>
    /// <param name="runs">The leaders' runs (<see cref="Reads"/> or <see cref="Copies"/> on the kernel's buffers).</param>
    /// <param name="bytes">Bytes each run moves.</param>
    /// <param name="iterations">Rounds wanted.</param>
    /// <param name="capSeconds">Time after which warm-up and timing stop early.</param>
    /// <param name="minSampleSeconds">Shortest span of one timed sample (<see cref="Timing.Interleaved"/>).</param>
    /// <param name="kernelLead">Run untimed before each of the kernel's turns, or null.</param>
    /// <param name="limitLead">
    /// The lead for a limit on that many threads (more than one), run untimed before its turns; null for
    /// <see cref="PoolLead.Wake"/>.
    /// </param>
    /// <returns>The kernel's timing and the limit.</returns>
    public static (Timing Kernel, MemoryLimit Limit) Beside(Action kernel, IReadOnlyList<MemoryLimit> limits, Func<IReadOnlyList<MemoryLimit>, Action[]> runs,
        long bytes, int iterations, double capSeconds, double minSampleSeconds, Action? kernelLead, Func<int, Action>? limitLead = null)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(runs);
        var leaders = Leaders(limits);
        limitLead ??= PoolLead.Wake;
        var timings = Timing.Interleaved([kernel, .. runs(leaders)], iterations, capSeconds, minSampleSeconds,
            [kernelLead, .. leaders.Select(l => l.Threads == 1 ? null : limitLead(l.Threads))]);
        return (timings[0], Fastest(limits, leaders, timings[1..], bytes));
    }

    /// <summary>
    /// <see cref="Fastest"/> for the leaders of <see cref="CopyAndInPlaceLeaders"/>, as `xent bench` takes its limits: the
    /// copy limit (the fastest copy between two buffers, for a kernel that writes a buffer of its own) and the in-place
    /// limit (the fastest of every way to read and write the bytes, for a kernel that writes over its input), each the
    /// fastest median of the ranking and of the reruns beside the kernels.
    /// </summary>
    /// <param name="rankedCopies">The copy ranking the leaders came from, <see cref="CopyMethod.InPlace"/> among them.</param>
    /// <param name="leaders">The copy methods run again.</param>
    /// <param name="reruns">Their timings beside the kernels, in the leaders' order.</param>
    /// <param name="bytes">Bytes each rerun moved.</param>
    /// <returns>The two limits.</returns>
    public static (MemoryLimit Copy, MemoryLimit InPlace) FastestCopyAndInPlace(IReadOnlyList<MemoryLimit> rankedCopies, IReadOnlyList<MemoryLimit> leaders,
        IReadOnlyList<Timing> reruns, long bytes)
    {
        ArgumentNullException.ThrowIfNull(leaders);
        ArgumentNullException.ThrowIfNull(reruns);
        if (reruns.Count != leaders.Count)
        {
            throw new ArgumentException($"{reruns.Count} timings for {leaders.Count} methods.", nameof(reruns));
        }

        var between = Enumerable.Range(0, leaders.Count).Where(i => leaders[i].How.Copy != CopyMethod.InPlace).ToList();
        return (Fastest(MemoryLimits.OutOfPlace(rankedCopies), [.. between.Select(i => leaders[i])], [.. between.Select(i => reruns[i])], bytes),
            Fastest(rankedCopies, leaders, reruns, bytes));
    }

    /// <summary>
    /// For tools that time rounds of their own: in each round, the fastest of the leaders' times, which stands for the
    /// limit in that round (the limit can only be as slow as its fastest method).
    /// </summary>
    /// <param name="reruns">Each leader's times, one per round.</param>
    /// <returns>One time per round.</returns>
    public static List<double> PerRound(IReadOnlyList<IReadOnlyList<double>> reruns)
    {
        ArgumentNullException.ThrowIfNull(reruns);
        if (reruns.Count == 0 || reruns.Any(r => r.Count != reruns[0].Count))
        {
            throw new ArgumentException("Every method needs the same number of rounds.", nameof(reruns));
        }

        return [.. Enumerable.Range(0, reruns[0].Count).Select(round => reruns.Min(r => r[round]))];
    }
}
