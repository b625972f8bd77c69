using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using Perfolizer.Horology;
using Xent.Baselines;

namespace Xent.Benchmarks;

/// <summary>
/// Issue 2: Loss and LossAndGradient at the shapes (float32, every core), beside a plain scalar baseline
/// and the memory limits of the same bytes measured in the same run: ReadLimit reads the logits once, CopyLimit
/// reads them and writes the gradient's bytes once (both with every core, vectorised, two methods each: the limit
/// is the faster). The baselines are src/Xent.Baselines, the same code as `xent bench`.
/// Run (about 3.5 minutes): dotnet run -c Release --project bench/Xent.Benchmarks -- --filter 'Xent.Benchmarks.CrossEntropyBenchmarks*'
/// </summary>
[Config(typeof(ShortConfig))]
public class CrossEntropyBenchmarks
{
    private float[] logits = [];
    private float[] gradient = [];
    private float[] work = [];
    private int[] targets = [];

    [Params("256x50257", "8192x32000", "1x262144")]
    public string Shape { get; set; } = "256x50257";

    [GlobalSetup]
    public void Setup()
    {
        var parts = Shape.Split('x');
        int rows = int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture);
        int classes = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
        var random = new Random(42);
        logits = new float[rows * classes];
        for (int i = 0; i < logits.Length; i++)
        {
            logits[i] = (float)((random.NextDouble() * 8) - 4);
        }

        gradient = new float[logits.Length];
        gradient.AsSpan().Fill(1f); // touch the pages before timing
        work = (float[])logits.Clone();
        targets = new int[rows];
        for (int n = 0; n < rows; n++)
        {
            targets[n] = random.Next(classes);
        }
    }

    [Benchmark]
    public float Loss() => CrossEntropy.Loss(logits, targets);

    [Benchmark]
    public float LossAndGradient() => CrossEntropy.LossAndGradient(logits, targets, gradient);

    /// <summary>In place (the gradient over the logits' own memory), as training uses it: no read-for-ownership
    /// of a second buffer. Works on its own buffer, which after the first call holds gradients; the work per
    /// element does not depend on the values.</summary>
    [Benchmark]
    public float LossAndGradientInPlace() => CrossEntropy.LossAndGradient(work, targets, work);

    [Benchmark]
    public float ScalarLoss() => ScalarCrossEntropy.Loss(logits, targets, Threads);

    [Benchmark]
    public float ScalarLossAndGradient() => ScalarCrossEntropy.LossAndGradient(logits, targets, gradient, Threads);

    // The limits are the best of these (a few of MemoryLimits' read and copy methods on every core): take the fastest
    // read and the fastest copy, and for the in-place case the faster of that copy and InPlaceLimit. `memory-methods`
    // times every method beside the kernels.
    [Benchmark]
    public float ReadLimit() => MemoryLimits.Read(logits, Threads, ReadMethod.TensorPrimitivesSum);

    [Benchmark]
    public float ReadLimitFourSums() => MemoryLimits.Read(logits, Threads, ReadMethod.FourVectorSums);

    [Benchmark]
    public float ReadLimitPrefetched() => MemoryLimits.Read(logits, Threads, MemoryMethod.Reading(ReadMethod.EightWideSums, 8 << 10, 256 << 10));

    [Benchmark]
    public void CopyLimit() => MemoryLimits.Copy(logits, gradient, Threads, CopyMethod.SpanCopy);

    [Benchmark]
    public void CopyLimitStreaming() => MemoryLimits.Copy(logits, gradient, Threads, CopyMethod.NonTemporalStores);

    [Benchmark]
    public void CopyLimitPrefetched() => MemoryLimits.Copy(logits, gradient, Threads, MemoryMethod.Copying(CopyMethod.NonTemporalStores, 2 << 10, 256 << 10));

    /// <summary>The gradient's buffer rewritten in place: the bytes of <see cref="LossAndGradientInPlace"/> in its pattern.</summary>
    [Benchmark]
    public void InPlaceLimit() => MemoryLimits.Copy(logits, gradient, Threads, CopyMethod.InPlace);

    private static int Threads => Environment.ProcessorCount;

    /// <summary>1 launch, 3 warm-up and 9 measured iterations of 250 ms; median, min, max and StdDev in ms.</summary>
    internal sealed class ShortConfig : ManualConfig
    {
        public ShortConfig()
        {
            AddJob(Job.Default.WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(9)
                .WithIterationTime(TimeInterval.FromMilliseconds(250)).WithStrategy(RunStrategy.Throughput));
            AddColumn(StatisticColumn.Median, StatisticColumn.Min, StatisticColumn.Max, StatisticColumn.StdDev);
            SummaryStyle = BenchmarkDotNet.Reports.SummaryStyle.Default.WithTimeUnit(TimeUnit.Millisecond);
        }
    }
}
