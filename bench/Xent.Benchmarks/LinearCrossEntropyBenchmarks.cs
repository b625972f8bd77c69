using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Xent.LinearAlgebra;

namespace Xent.Benchmarks;

/// <summary>
/// Fused LinearCrossEntropy against the unfused path a framework takes (logits = h W^T by MatMul, CrossEntropy on
/// them, then dh = G W and dW = G^T h by MatMul), at GPT-2's N = 2048, D = 768, V = 50257, both cores.
/// The unfused logits buffer is allocated once in setup, so its timings exclude allocating 412 MB per call.
/// Run: dotnet run -c Release --project bench/Xent.Benchmarks -- --filter *LinearCrossEntropyBenchmarks*
/// </summary>
// 3 warm-up calls (seconds each): the fused kernel's per-block code (16 calls a call) and the Gemm tasks pass the tiered
// JIT's 30 calls within them; with 1, the first measured calls still ran it at tier 0 (as lce-limit did).
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 3, iterationCount: 5)]
[MemoryDiagnoser]
public class LinearCrossEntropyBenchmarks
{
    private const int N = 2048, D = 768, V = 50257;
    private LinearCrossEntropyInputs x = null!;
    private float[] dHidden = [];
    private float[] dWeight = [];
    private float[] logits = [];

    /// <summary>random (untrained-like) or peaked (trained-like) logits.</summary>
    [Params("random", "peaked")]
    public string Input { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        x = new LinearCrossEntropyInputs(N, D, V, Input);
        dHidden = new float[N * D];
        dWeight = new float[V * D];
        logits = new float[N * V];
    }

    [Benchmark]
    public float Fused_Loss() => LinearCrossEntropy.Loss(x.Hidden, x.Weight, x.Targets);

    [Benchmark]
    public float Fused_LossAndGradients() => LinearCrossEntropy.LossAndGradients(x.Hidden, x.Weight, x.Targets, new(dHidden, dWeight));

    [Benchmark]
    public float Fused_LossAndGradients_Filtered() => LinearCrossEntropy.LossAndGradients(x.Hidden, x.Weight, x.Targets,
        new(dHidden, dWeight), new LinearCrossEntropyOptions { FilterThreshold = x.FilterThreshold });

    [Benchmark]
    public float Unfused_Loss()
    {
        MatMul.Gemm(false, true, N, V, D, 1, x.Hidden, D, x.Weight, D, 0, logits, V);
        return CrossEntropy.Loss(logits, x.Targets);
    }

    [Benchmark(Baseline = true)]
    public float Unfused_LossAndGradients()
    {
        MatMul.Gemm(false, true, N, V, D, 1, x.Hidden, D, x.Weight, D, 0, logits, V);
        float loss = CrossEntropy.LossAndGradient(logits, x.Targets, logits);
        MatMul.Gemm(false, false, N, D, V, 1, logits, V, x.Weight, D, 0, dHidden, D);
        MatMul.Gemm(true, false, V, D, N, 1, logits, V, x.Hidden, D, 0, dWeight, D);
        return loss;
    }
}
