using Spectre.Console.Cli;
using Xent.Baselines;
using Xent.Cli.Terminal;
using Xent.Training;

namespace Xent.Cli.Commands;

/// <summary>
/// <c>xent bench</c>: times CrossEntropy.Loss and LossAndGradient against a plain scalar loop and against this
/// machine's measured memory bandwidth, side by side in one run.
/// </summary>
internal sealed class BenchCommand : Command<BenchSettings>
{
    private const double CapSeconds = 3;
    private const double LimitCapSeconds = 1;
    private const int MinBandwidthFloats = 32 << 20;

    // Tiny shapes run in tens of nanoseconds, a few ticks of the clock: each sample times a batch of runs spanning
    // at least this long (Timing.RunsPerSample). Every case of the default shapes takes longer and is timed alone.
    private const double MinSampleSeconds = 20e-6;
    private readonly CliConsoles io;

    public BenchCommand(CliConsoles io) => this.io = io;

    public static void Register(IConfigurator config) =>
        config.AddCommand<BenchCommand>("bench")
            .WithDescription("Times Xent's Loss and LossAndGradient against a plain scalar loop and this machine's measured memory bandwidth; prints median, min-max and ratios.")
            .WithExample("bench")
            .WithExample("bench", "--rows", "8192", "--vocab", "32000", "--threads", "4")
            .WithExample("bench", "--iterations", "15", "--json");

    public override int Execute(CommandContext context, BenchSettings settings, CancellationToken cancellationToken)
    {
        KernelEnvironment.Check();
        int threads = settings.ThreadCount;
        if (settings.ThreadsCapped)
        {
            io.Error.WriteLine($"xent bench: --threads {settings.Threads} is more than this machine's {threads} cores; timing on {threads}, as many as Xent would use.");
        }

        var shapes = settings.Shapes;
        int largest = shapes.Max(s => s.Rows * s.Vocab);

        // One pair of buffers sized for the largest shape; smaller shapes use their prefix.
        var logits = GC.AllocateUninitializedArray<float>(largest);
        var gradient = GC.AllocateUninitializedArray<float>(largest);
        var rng = new Random(1234);
        for (int i = 0; i < logits.Length; i++)
        {
            logits[i] = rng.NextSingle() * 8f - 4f;
        }

        gradient.AsSpan().Fill(0f);
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        var limits = MeasureLimits(settings, logits, gradient);
        if (!settings.Json)
        {
            io.Error.WriteLine($"xent bench: memory limits took {System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds:F1} s");
        }
        var cases = new List<(string Shape, long Bytes, Timing Scalar, Timing Xent, Timing ScalarGrad, Timing XentGrad, Timing XentInPlace, MemoryLimit Read, MemoryLimit Copy, MemoryLimit InPlace)>();

        var options = new CrossEntropyOptions { MaxDegreeOfParallelism = threads };
        foreach (var (n, v) in shapes)
        {
            var x = logits.AsMemory(0, n * v);
            var g = gradient.AsMemory(0, n * v);
            var targets = new int[n];
            for (int i = 0; i < n; i++)
            {
                targets[i] = rng.Next(v);
            }

            string shape = $"{n} x {v}";
            long bytes = (long)n * v * 4;
            float scalarLoss = 0, xentLoss = 0;
            var (reads, copies) = LimitsFor(limits, bytes);

            // Each Xent case runs side by side with the fastest few read (copy) methods on its own buffer, which then
            // count for the limit too: a machine shared with other programs cannot make the kernel look faster than
            // memory by slowing the limit's measurement alone, nor by moving to a state where another method is the
            // fastest (LimitReruns).
            Progress(settings, $"Loss {shape}");
            var scalar = Timing.Measure(() => scalarLoss = ScalarCrossEntropy.Loss(x, targets, threads), settings.Iterations, CapSeconds, MinSampleSeconds);
            var (loss, read) = Beside(() => xentLoss = CrossEntropy.Loss(x.Span, targets, options), reads, l => LimitReruns.Reads(l, x), bytes, settings);
            CheckAgreement("Loss", shape, scalarLoss, xentLoss);

            Progress(settings, $"LossAndGradient {shape}");
            var scalarGrad = Timing.Measure(() => scalarLoss = ScalarCrossEntropy.LossAndGradient(x, targets, g, threads), settings.Iterations, CapSeconds, MinSampleSeconds);
            var (outOfPlace, copy) = Beside(() => xentLoss = CrossEntropy.LossAndGradient(x.Span, targets, g.Span, options), MemoryLimits.OutOfPlace(copies),
                l => LimitReruns.Copies(l, x, g), 2 * bytes, settings);
            CheckAgreement("LossAndGradient", shape, scalarLoss, xentLoss);

            // In place (the gradient written over the logits, as a training step that has no further use for them
            // does): the copy's bytes, and its limit is the fastest way to read and write them, a copy or a rewrite in
            // place. The copies beside it put the logits back into g; whatever g holds, the kernel does the same work,
            // and one call on the logits afterwards checks its loss.
            Progress(settings, $"LossAndGradient in place {shape}");
            x.Span.CopyTo(g.Span);
            var (inPlace, inPlaceLimit) = Beside(() => CrossEntropy.LossAndGradient(g.Span, targets, g.Span, options), MemoryLimits.Rank([copy, .. copies]),
                l => LimitReruns.Copies(l, x, g), 2 * bytes, settings);
            x.Span.CopyTo(g.Span);
            CheckAgreement("LossAndGradient in place", shape, scalarLoss, CrossEntropy.LossAndGradient(g.Span, targets, g.Span, options));
            cases.Add((shape, bytes, scalar, loss, scalarGrad, outOfPlace, inPlace, read, copy, inPlaceLimit));
        }

        var rows = new List<BenchRow>();
        foreach (var (shape, bytes, scalar, xent, scalarGrad, xentGrad, xentInPlace, read, copy, inPlaceLimit) in cases)
        {
            // The limits as the time to read (copy) this shape's logits at their bandwidth.
            double readBandwidth = read.BytesPerSecond, copyBandwidth = copy.BytesPerSecond, inPlaceBandwidth = inPlaceLimit.BytesPerSecond;
            rows.Add(new BenchRow("memory read", shape, read.Threads, Scaled(read.Timing, (double)bytes / read.Bytes), bytes, null, null));
            rows.Add(new BenchRow("memory copy", shape, copy.Threads, Scaled(copy.Timing, 2.0 * bytes / copy.Bytes), 2 * bytes, null, null));
            rows.Add(new BenchRow("memory in place", shape, inPlaceLimit.Threads, Scaled(inPlaceLimit.Timing, 2.0 * bytes / inPlaceLimit.Bytes), 2 * bytes, null, null));
            rows.Add(new BenchRow("scalar Loss", shape, threads, scalar, bytes, null, null));
            rows.Add(new BenchRow("Xent Loss", shape, threads, xent, bytes, scalar.Median / xent.Median, bytes / readBandwidth / xent.Median));
            rows.Add(new BenchRow("scalar Loss+Grad", shape, threads, scalarGrad, 2 * bytes, null, null));
            rows.Add(new BenchRow("Xent Loss+Grad", shape, threads, xentGrad, 2 * bytes, scalarGrad.Median / xentGrad.Median, 2 * bytes / copyBandwidth / xentGrad.Median));
            rows.Add(new BenchRow("Xent Loss+Grad in place", shape, threads, xentInPlace, 2 * bytes, scalarGrad.Median / xentInPlace.Median, 2 * bytes / inPlaceBandwidth / xentInPlace.Median));
        }

        BenchReport.Write(io, settings, rows, [.. cases.Select(c => (c.Shape, c.Bytes, c.Read, c.Copy, c.InPlace))]);
        return ExitCodes.Ok;
    }

    private static Timing Scaled(Timing timing, double factor) => new([.. timing.Seconds.Select(t => t * factor)]);

    /// <summary>
    /// The kernel beside the fastest few limits (<see cref="LimitReruns.Beside"/>), an untimed <see cref="PoolLead"/>
    /// before the kernel's turns only.
    /// </summary>
    private static (Timing Kernel, MemoryLimit Limit) Beside(Action kernel, IReadOnlyList<MemoryLimit> limits, Func<IReadOnlyList<MemoryLimit>, Action[]> runs, long bytes, BenchSettings settings) =>
        LimitReruns.Beside(kernel, limits, runs, bytes, settings.Iterations, CapSeconds, MinSampleSeconds, PoolLead.Wake(settings.ThreadCount));

    /// <summary>
    /// A shape's read and copy candidates, fastest first: those measured on its own logits or on a larger buffer, never
    /// a smaller one, whose bytes may partly stay in the last-level cache (on a Zen 4, 60 GB/s from a 51 MB buffer where
    /// 262 MB read at 32): the time to read these logits is not that.
    /// </summary>
    internal static (IReadOnlyList<MemoryLimit> Reads, IReadOnlyList<MemoryLimit> Copies) LimitsFor(
        List<(long Bytes, IReadOnlyList<MemoryLimit> Reads, IReadOnlyList<MemoryLimit> Copies)> limits, long bytes)
    {
        var larger = limits.Where(l => l.Bytes >= bytes).ToList();
        return (MemoryLimits.Rank(larger.SelectMany(l => l.Reads)), MemoryLimits.Rank(larger.SelectMany(l => l.Copies)));
    }

    /// <summary>
    /// The read and copy limits of each buffer size, honest: the best over every method, one thread, the asked thread
    /// count and every core, each warmed until steady, on each case's own logits (a prefix of the shared buffers the
    /// cases use) and on a buffer far larger than any cache. A limit below what some other program reads would make
    /// the kernel look faster than memory allows.
    /// </summary>
    private List<(long Bytes, IReadOnlyList<MemoryLimit> Reads, IReadOnlyList<MemoryLimit> Copies)> MeasureLimits(BenchSettings settings, float[] logits, float[] gradient)
    {
        int[] threadCounts = [1, settings.ThreadCount, Environment.ProcessorCount];
        var buffers = settings.Shapes.Select(s => s.Rows * s.Vocab).Distinct()
            .Select(n => ((ReadOnlyMemory<float>)logits.AsMemory(0, n), gradient.AsMemory(0, n))).ToList();
        if (logits.Length < MinBandwidthFloats)
        {
            buffers.Add((MemoryLimits.Touched(MinBandwidthFloats), MemoryLimits.Touched(MinBandwidthFloats)));
        }

        var limits = new List<(long Bytes, IReadOnlyList<MemoryLimit> Reads, IReadOnlyList<MemoryLimit> Copies)>();
        foreach (var (source, destination) in buffers)
        {
            Progress(settings, $"memory limits ({source.Length * 4L / 1e6:F0} MB buffers)");
            // Every candidate 3 runs (after 3 to warm up), the two fastest reads and copies again as the cases are timed
            // (at most a second each): about 2 s at 2048 x 50257 on 2 cores.
            var (reads, copies) = MemoryLimits.Ranked(source, destination, threadCounts, a => Timing.Measure(a, settings.Iterations, LimitCapSeconds, MinSampleSeconds), a => Timing.Measure(a, 3, 0, MinSampleSeconds));
            limits.Add((source.Length * 4L, reads, copies));
        }

        return limits;
    }

    private void Progress(BenchSettings settings, string what)
    {
        if (!settings.Json)
        {
            io.Error.WriteLine($"xent bench: timing {what} ...");
        }
    }

    /// <summary>A benchmark of a wrong result is worthless: say so loudly (float32 sums may differ in the last digits).</summary>
    private void CheckAgreement(string what, string shape, float scalar, float xent)
    {
        if (!(Math.Abs(scalar - xent) <= 1e-4 * Math.Abs(scalar)))
        {
            io.Error.WriteLine($"xent bench: warning: {what} {shape}: Xent gives {xent} but the scalar loop gives {scalar}.");
        }
    }
}

/// <summary>One line of the benchmark table.</summary>
/// <param name="Case">What was timed.</param>
/// <param name="Shape">[N, V] or the buffer size.</param>
/// <param name="Threads">Threads used.</param>
/// <param name="Timing">The runs.</param>
/// <param name="Bytes">Bytes that must cross the memory bus at least once (read, or read + write).</param>
/// <param name="VsScalar">Scalar median / this median (Xent rows only).</param>
/// <param name="OfLimit">Fraction of the measured memory limit reached: read for Loss, copy for LossAndGradient.</param>
internal sealed record BenchRow(string Case, string Shape, int Threads, Timing Timing, long Bytes, double? VsScalar, double? OfLimit)
{
    public double GigabytesPerSecond => Bytes / Timing.Median / 1e9;
}
