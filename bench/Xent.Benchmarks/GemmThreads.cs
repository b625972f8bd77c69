using System.Diagnostics;
using System.Globalization;
using Xent.Kernels;
using Xent.LinearAlgebra;

namespace Xent.Benchmarks;

/// <summary>
/// What a second thread costs <see cref="MatMul.Gemm"/> in CPU time, apart from the host: per shape, batches of 5 calls
/// on 1 thread and on 2 alternate in one process (and, for reference, the same flops as bare FMA chains on 1 and 2
/// threads, <see cref="FlopLimit.Spend"/>), and the tool prints the median [20th-80th percentile] of each batch's
/// process CPU and wall time per call, the 2-thread/1-thread CPU ratio of the medians and the worker's sleeps per
/// 2-thread call (each costs the next call a wake-up). A 2-thread batch whose wall time is over 0.7 of its CPU time ran
/// with its threads mostly taking turns on one core (a shared host's other work held the other): the tool counts those
/// batches and gives the ratios with them and, apart, over the batches that ran in parallel, since the two regimes cost
/// a second thread differently (taking turns, nothing is balanced or joined but each switch and spin costs).
/// Run: dotnet bench/Xent.Benchmarks/bin/Release/net10.0/Xent.Benchmarks.dll gemm-threads [batches] MxNxK:layout ...
/// With XENT_C_OFFSET=f, C starts f floats past a 64-byte boundary (to see whether the threads share C's lines).
/// </summary>
internal static class GemmThreads
{
    public static void Run(string[] args)
    {
        int batches = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 100;
        string[] shapes = args.Length > 1 ? args[1..] : ["256x768x3072:nn", "256x3072x768:nn", "256x2304x768:nn"];
        foreach (string spec in shapes)
        {
            string[] parts = spec.Split(':');
            int[] s = [.. parts[0].Split('x').Select(x => int.Parse(x, CultureInfo.InvariantCulture))];
            int m = s[0], n = s[1], k = s[2];
            bool ta = parts.Length > 1 && parts[1][0] == 't', tb = parts.Length > 1 && parts[1][1] == 't';
            var r = new Random(1);
            var a = new float[m * k];
            var b = new float[n * k];
            // XENT_C_OFFSET=f: C starts f floats past a 64-byte boundary (default: wherever the array's data begins).
            string? offset = Environment.GetEnvironmentVariable("XENT_C_OFFSET");
            var cStore = GC.AllocateArray<float>((m * n) + 32, pinned: true);
            int c0 = 0;
            if (offset != null)
            {
                unsafe
                {
                    fixed (float* pc = cStore)
                    {
                        c0 = ((int)((64 - ((nint)pc & 63)) & 63) / 4) + int.Parse(offset, CultureInfo.InvariantCulture);
                    }
                }
            }

            var c = cStore.AsMemory(c0, m * n);
            for (int i = 0; i < a.Length; i++)
            {
                a[i] = (float)(r.NextDouble() - 0.5);
            }

            for (int i = 0; i < b.Length; i++)
            {
                b[i] = (float)(r.NextDouble() - 0.5);
            }

            double flop = 2.0 * m * n * k;
            foreach (bool limit in new[] { false, true })
            {
                void Call(int threads)
                {
                    if (limit)
                    {
                        FlopLimit.Spend(flop, threads);
                    }
                    else
                    {
                        MatMul.Gemm(ta, tb, m, n, k, 1, a, ta ? m : k, b, tb ? k : n, 0, c.Span, n, threads);
                    }
                }

                // Past tiered compilation on both thread counts, then a pause for the background compilations.
                TierUp.WarmCapped([() => Call(1), () => Call(2)]);
                var cpu = new[] { new List<double>(), new List<double>() };
                var wall = new[] { new List<double>(), new List<double>() };
                var parallelCpu = new List<double>();
                long sleeps = 0;
                const int batch = 5;
                double calls = limit ? batch * FlopLimit.Calls(flop * batch) : batch;
                for (int i = 0; i < 2 * batches; i++)
                {
                    int threads = (i % 2) + 1;
                    Call(threads);
                    long sleeps0 = WorkerPool.Sleeps;
                    var cpu0 = Environment.CpuUsage.TotalTime;
                    long t0 = Stopwatch.GetTimestamp();
                    if (limit)
                    {
                        // One spend for the batch, of enough flops to be steady: fresh threads per call would time their creation.
                        FlopLimit.Spend(flop * calls, threads);
                    }
                    else
                    {
                        for (int j = 0; j < batch; j++)
                        {
                            Call(threads);
                        }
                    }

                    double w = Stopwatch.GetElapsedTime(t0).TotalMicroseconds / calls;
                    double u = (Environment.CpuUsage.TotalTime - cpu0).TotalMicroseconds / calls;
                    cpu[threads - 1].Add(u);
                    wall[threads - 1].Add(w);
                    if (threads == 2)
                    {
                        sleeps += WorkerPool.Sleeps - sleeps0;
                        if (w <= 0.7 * u)
                        {
                            parallelCpu.Add(u);
                        }
                    }
                }

                string what = limit ? "FMA limit" : "Gemm";
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{spec} {what}: CPU us/call 1t {Q(cpu[0])} 2t {Q(cpu[1])}, 2t/1t {Med(cpu[1]) / Med(cpu[0]):F3}; wall 1t {Q(wall[0])} 2t {Q(wall[1])}"));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{spec} {what}: 2t batches in parallel {parallelCpu.Count} of {batches}{(parallelCpu.Count >= 10 ? $", their CPU {Q(parallelCpu)}, 2t/1t {Med(parallelCpu) / Med(cpu[0]):F3}" : string.Empty)}; worker sleeps per 2t call {sleeps / (double)(batches * batch):F2}"));
            }
        }
    }

    private static double Med(List<double> v) => v.Order().ElementAt(v.Count / 2);

    private static string Q(List<double> v)
    {
        var o = v.Order().ToList();
        return $"{U(o[o.Count / 2])} [{U(o[o.Count / 5])}-{U(o[o.Count - 1 - (o.Count / 5)])}]";
    }

    // Microseconds to three significant figures: a tiny product's call (or its FMA limit) is well under 1 us.
    private static string U(double us) => us.ToString(us >= 100 ? "F0" : us >= 10 ? "F1" : us >= 1 ? "F2" : "F3", CultureInfo.InvariantCulture);
}
