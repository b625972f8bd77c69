using System.Diagnostics;
using System.Globalization;

namespace Xent.Benchmarks;

/// <summary>
/// Peak extra memory of one <see cref="LinearDistillation.LossAndGradients(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{int}, Span{float}, Span{float}, DistillationOptions?)"/>
/// call, measured as <see cref="LinearCrossEntropyMemory"/> measures the fused cross-entropy: peak RSS over the RSS
/// once the inputs and outputs exist, and the managed bytes the call allocates. Teacher and student share D.
/// Run: dotnet run -c Release --project bench/Xent.Benchmarks -- distill-memory [N D V]
/// </summary>
internal static class DistillationMemory
{
    public static void Run(string[] args)
    {
        int n = args.Length > 2 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 4096;
        int d = args.Length > 2 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1024;
        int v = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 151936;
        var options = new DistillationOptions { Beta = 0.5f, Temperature = 2f, HardLossWeight = 0.5f };
        Call(64, 32, 1000, options); // JIT everything on a small problem first
        Call(n, d, v, options, measure: true);
    }

    private static void Call(int n, int d, int v, DistillationOptions options, bool measure = false)
    {
        var random = new Random(1);
        float[] Values(long count)
        {
            var x = GC.AllocateUninitializedArray<float>(checked((int)count));
            for (int i = 0; i < x.Length; i++)
            {
                x[i] = (2 * random.NextSingle()) - 1;
            }

            return x;
        }

        var hs = Values((long)n * d);
        var ws = Values((long)v * d);
        var ht = Values((long)n * d);
        var wt = Values((long)v * d);
        var targets = Enumerable.Range(0, n).Select(_ => random.Next(v)).ToArray();
        var dh = new float[n * d];
        var dw = new float[(long)v * d];
        dh.AsSpan().Fill(1);
        dw.AsSpan().Fill(1);
        GC.Collect(2, GCCollectionMode.Forced, true, true);
        File.WriteAllText("/proc/self/clear_refs", "5");
        long rss0 = LinearCrossEntropyMemory.Status("VmRSS");
        long managed0 = GC.GetTotalAllocatedBytes(true);
        var sw = Stopwatch.StartNew();
        float loss = LinearDistillation.LossAndGradients(hs, ws, ht, wt, targets, dh, dw, options);
        double seconds = sw.Elapsed.TotalSeconds;
        long peak = LinearCrossEntropyMemory.Status("VmHWM");
        long managed = GC.GetTotalAllocatedBytes(true) - managed0;
        if (measure)
        {
            Console.WriteLine($"distillation N={n} D={d} V={v}: loss {loss}, {seconds:F1} s, peak RSS +{(peak - rss0) / 1024.0:F1} MB, managed allocations {managed / 1048576.0:F1} MB");
        }
    }
}
