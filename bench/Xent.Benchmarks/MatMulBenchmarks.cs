using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Xent.LinearAlgebra;

namespace Xent.Benchmarks;

/// <summary>
/// GEMM throughput: C [M, N] = A [M, K] B^T with B stored [N, K] (the logits projection h W^T), both cores.
/// GFLOP/s = 2 M N K / time. The baseline does the same 2 M N K flops as bare FMA chains on every core
/// (<see cref="FlopLimit"/>), so the Ratio column is the share of the FMA limit the kernel reaches (its inverse).
/// Run: dotnet run -c Release --project bench/Xent.Benchmarks -- --filter *MatMul*
/// </summary>
// 30 warm-up calls: the tiered JIT promotes methods after 30 calls; with 2, the measured calls of 512 x 4096 x 768
// (milliseconds each) ran the Gemm drivers at tier 0.
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 30, iterationCount: 7)]
public class MatMulBenchmarks
{
    private float[] a = [];
    private float[] b = [];
    private float[] c = [];
    private int m, n, k;

    /// <summary>M x N x K.</summary>
    [Params("2048x50257x768", "512x4096x768")]
    public string Shape { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        var s = Shape.Split('x').Select(int.Parse).ToArray();
        (m, n, k) = (s[0], s[1], s[2]);
        var rng = new Random(1);
        a = Enumerable.Range(0, m * k).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        b = Enumerable.Range(0, n * k).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        c = new float[m * n];
    }

    [Benchmark]
    public void Gemm_ABt() => MatMul.Gemm(false, true, m, n, k, 1, a, k, b, k, 0, c, n);

    [Benchmark(Baseline = true)]
    public void FmaLimit() => FlopLimit.Spend(2.0 * m * n * k, Environment.ProcessorCount);
}
