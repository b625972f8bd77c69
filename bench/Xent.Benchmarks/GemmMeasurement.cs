using System.Diagnostics;
using System.Globalization;
using Xent.LinearAlgebra;

namespace Xent.Benchmarks;

/// <summary>
/// One <see cref="MatMul.Gemm"/> shape timed on its own: C [M, N] = op(A) [M, K] op(B) [K, N] with random inputs,
/// after a warm-up past tiered compilation (<see cref="TierUp.WarmCapped"/>), then the given number of timed
/// calls. Prints one JSON line: median, min and max seconds, and GFLOP/s (2 M N K / median). (bench/compare/compare.py
/// runs gemm-limit instead, which times the FMA limit beside each call.)
/// Run: dotnet run -c Release --project bench/Xent.Benchmarks -- gemm M N K [nn|nt|tn] [runs] [threads]
/// </summary>
internal static class GemmMeasurement
{
    public static void Run(string[] args)
    {
        if (args.Length < 3)
        {
            Console.Error.WriteLine("usage: gemm M N K [nn|nt|tn] [runs] [threads]");
            Environment.ExitCode = 2;
            return;
        }

        int m = int.Parse(args[0], CultureInfo.InvariantCulture);
        int n = int.Parse(args[1], CultureInfo.InvariantCulture);
        int k = int.Parse(args[2], CultureInfo.InvariantCulture);
        string layout = args.Length > 3 ? args[3] : "nn";
        int runs = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : 5;
        int threads = args.Length > 5 ? int.Parse(args[5], CultureInfo.InvariantCulture) : Environment.ProcessorCount;
        bool ta = layout[0] == 't', tb = layout[1] == 't';
        var random = new Random(1);
        float[] a = [.. Enumerable.Range(0, m * k).Select(_ => (float)(random.NextDouble() - 0.5))];
        float[] b = [.. Enumerable.Range(0, k * n).Select(_ => (float)(random.NextDouble() - 0.5))];
        var c = new float[m * n];
        void Call() => MatMul.Gemm(ta, tb, m, n, k, 1, a, ta ? m : k, b, tb ? k : n, 0, c, n, threads);

        // Past tiered compilation (40 calls or 1.5 s, then a pause): warming until two calls agreed within 10% (at most
        // 10) could stop with the drivers at tier 0.
        TierUp.WarmCapped([Call]);
        Call();

        var times = Enumerable.Range(0, runs).Select(_ => Time(Call)).Order().ToList();
        double median = times[times.Count / 2];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"m\": {m}, \"n\": {n}, \"k\": {k}, \"layout\": \"{layout}\", \"threads\": {threads}, \"median_s\": {median:G6}, " +
            $"\"min_s\": {times[0]:G6}, \"max_s\": {times[^1]:G6}, \"gflops\": {2.0 * m * n * k / median / 1e9:F2}}}"));
    }

    private static double Time(Action call)
    {
        long start = Stopwatch.GetTimestamp();
        call();
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }
}
