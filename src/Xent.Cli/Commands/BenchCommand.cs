using Spectre.Console.Cli;
using Xent.Cli.Terminal;

namespace Xent.Cli.Commands;

/// <summary>
/// <c>xent bench</c>: times CrossEntropy.Loss and LossAndGradient against a plain scalar loop and against this
/// machine's measured memory bandwidth, side by side in one run.
/// </summary>
internal sealed class BenchCommand : Command<BenchSettings>
{
    private const double CapSeconds = 3;
    private const int MinBandwidthFloats = 32 << 20;
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
        int threads = settings.ThreadCount;
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
        var rows = new List<BenchRow>();

        // Bandwidth buffers far larger than any cache: the benchmark's own when they are big enough.
        var source = largest >= MinBandwidthFloats ? logits : Touched(MinBandwidthFloats);
        var destination = largest >= MinBandwidthFloats ? gradient : Touched(MinBandwidthFloats);
        long bufferBytes = source.Length * 4L;
        Progress(settings, $"memory bandwidth ({threads} threads, {bufferBytes / 1e6:F0} MB buffers)");
        var read = BenchTiming.Measure(() => BenchMemory.Read(source, threads), 1, settings.Iterations, CapSeconds);
        var copy = BenchTiming.Measure(() => BenchMemory.Copy(source, destination, threads), 1, settings.Iterations, CapSeconds);
        double readBandwidth = bufferBytes / read.Median, copyBandwidth = 2 * bufferBytes / copy.Median;
        string size = $"{bufferBytes / 1e6:F0} MB";
        rows.Add(new BenchRow("memory read", size, threads, read, bufferBytes, null, null));
        rows.Add(new BenchRow("memory copy", size, threads, copy, 2 * bufferBytes, null, null));

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

            Progress(settings, $"Loss {shape}");
            var scalar = BenchTiming.Measure(() => scalarLoss = BenchScalar.Loss(x.Span, targets, v), 1, settings.Iterations, CapSeconds);
            var xent = BenchTiming.Measure(() => xentLoss = CrossEntropy.Loss(x.Span, targets, options), 1, settings.Iterations, CapSeconds);
            CheckAgreement("Loss", shape, scalarLoss, xentLoss);
            rows.Add(new BenchRow("scalar Loss", shape, 1, scalar, bytes, null, null));
            rows.Add(new BenchRow("Xent Loss", shape, threads, xent, bytes, scalar.Median / xent.Median, bytes / readBandwidth / xent.Median));

            Progress(settings, $"LossAndGradient {shape}");
            var scalarGrad = BenchTiming.Measure(() => scalarLoss = BenchScalar.LossAndGradient(x.Span, targets, g.Span, v), 1, settings.Iterations, CapSeconds);
            var xentGrad = BenchTiming.Measure(() => xentLoss = CrossEntropy.LossAndGradient(x.Span, targets, g.Span, options), 1, settings.Iterations, CapSeconds);
            CheckAgreement("LossAndGradient", shape, scalarLoss, xentLoss);
            rows.Add(new BenchRow("scalar Loss+Grad", shape, 1, scalarGrad, 2 * bytes, null, null));
            rows.Add(new BenchRow("Xent Loss+Grad", shape, threads, xentGrad, 2 * bytes, scalarGrad.Median / xentGrad.Median, 2 * bytes / copyBandwidth / xentGrad.Median));
        }

        BenchReport.Write(io, settings, rows, readBandwidth, copyBandwidth);
        return ExitCodes.Ok;
    }

    /// <summary>A buffer whose pages are really allocated: untouched pages all map the one zero page, which caches.</summary>
    private static float[] Touched(int length)
    {
        var buffer = GC.AllocateUninitializedArray<float>(length);
        buffer.AsSpan().Fill(1f);
        return buffer;
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
internal sealed record BenchRow(string Case, string Shape, int Threads, BenchTiming Timing, long Bytes, double? VsScalar, double? OfLimit)
{
    public double GigabytesPerSecond => Bytes / Timing.Median / 1e9;
}
