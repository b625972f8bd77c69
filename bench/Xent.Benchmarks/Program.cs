using System.Globalization;
using BenchmarkDotNet.Running;

namespace Xent.Benchmarks;

internal static class Program
{
    // Measurements that BenchmarkDotNet cannot make (process peak memory, interleaved runs) are verbs of their own;
    // everything else goes to BenchmarkDotNet's switcher (--filter ...).
    private static readonly Dictionary<string, Action<string[]>> Tools = new(StringComparer.Ordinal)
    {
        ["lce-memory"] = LinearCrossEntropyMemory.Run,
        ["lce-compare"] = LinearCrossEntropyCompare.Run,
        ["lce-limit"] = LinearCrossEntropyLimit.Run,
        ["lce-hash"] = LinearCrossEntropyLimit.Hash,
        ["fused-products"] = FusedProductsLimit.Run,
        ["lce-phases"] = LinearCrossEntropyPhases.Run,
        ["bf16-compare"] = BFloat16LossCompare.Run,
        ["distill-memory"] = DistillationMemory.Run,
        ["distill-compare"] = DistillationCompare.Run,
        ["training-step"] = TrainingStepMeasurement.Run,
        ["blocks"] = BlockMeasurement.Run,
        ["step-phases"] = StepPhases.Run,
        ["pool-calls"] = PoolCalls.Run,
        ["sample"] = SamplingMeasurement.Run,
        ["decode-limit"] = DecodeLimit.Run,
        ["decode-attention"] = DecodeAttention.Run,
        ["gemm"] = GemmMeasurement.Run,
        ["gemm-limit"] = GemmLimitMeasurement.Run,
        ["ce-hash"] = CeHash.Run,
        ["gemm-ab"] = GemmAb.Run,
        ["gemm-threads"] = GemmThreads.Run,
        ["kernel-compute"] = KernelCompute.Run,
        ["ce-calls"] = CeCalls.Run,
        ["loss-read"] = LossRead.Run,
        ["kernel-limit"] = KernelLimit.Run,
        ["stream-compare"] = StreamCompare.Run,
        ["recompute-compare"] = RecomputeCompare.Run,
        ["memory-methods"] = MemoryMethods.Run,
        ["bpe-memory"] = BpeLearnMemory.Run,
        ["flop-limit"] = args =>
        {
            // Rounds: the first argument, default 5.
            int rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 5;
            for (int round = 0; round < rounds; round++)
            {
                Console.WriteLine($"FMA limit: 1 thread {FlopLimit.Measure(1):F0} GFLOP/s, {Environment.ProcessorCount} threads {FlopLimit.Measure(Environment.ProcessorCount):F0} GFLOP/s");
            }
        },
    };

    public static void Main(string[] args)
    {
        if (args.Length > 0 && Tools.TryGetValue(args[0], out var tool))
        {
            tool(args[1..]);
            return;
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
