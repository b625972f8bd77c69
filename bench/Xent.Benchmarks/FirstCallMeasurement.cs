using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using Xent.LinearAlgebra;

namespace Xent.Benchmarks;

/// <summary>
/// What a fresh process's first calls cost against later ones: times calls 1 .. 10 of <see cref="MatMul.Gemm"/>
/// (a block's forward, 512 x 3072 x 768, B stored [N, K]) and of <see cref="CrossEntropy.Loss"/> (256 x 50257), in
/// that order, and prints the methods the first call JIT-compiled and the time that took, each call's milliseconds
/// and the ratio of the first to the median of calls 6 .. 10. Run it
/// in its own process: the point is the code's state on the first call.
/// Run: dotnet run -c Release --project bench/Xent.Benchmarks -- first-call
/// </summary>
internal static class FirstCallMeasurement
{
    public static void Run(string[] args)
    {
        var random = new Random(1);
        float[] Values(int count) => [.. Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() - 0.5))];
        int m = 512, n = 3072, k = 768;
        float[] a = Values(m * k), b = Values(n * k), c = new float[m * n];
        Report("Gemm 512 x 3072 x 768 nt", () => MatMul.Gemm(false, true, m, n, k, 1, a, k, b, k, 0, c, n));

        int rows = 256, vocab = 50257;
        float[] logits = Values(rows * vocab);
        int[] targets = [.. Enumerable.Range(0, rows).Select(_ => random.Next(vocab))];
        Report("Loss 256 x 50257", () => CrossEntropy.Loss(logits, targets));
    }

    private static void Report(string name, Action call)
    {
        var ms = new double[10];
        TimeSpan jitBefore = JitInfo.GetCompilationTime();
        long methodsBefore = JitInfo.GetCompiledMethodCount();
        for (int i = 0; i < ms.Length; i++)
        {
            long start = Stopwatch.GetTimestamp();
            call();
            ms[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            if (i == 0)
            {
                // The JIT's share of the first call (all threads): what a warm-up can and cannot remove.
                double jitMs = (JitInfo.GetCompilationTime() - jitBefore).TotalMilliseconds;
                long methods = JitInfo.GetCompiledMethodCount() - methodsBefore;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: first call JIT-compiled {methods} methods in {jitMs:F1} ms"));
            }
        }

        double late = ms[5..].Order().ElementAt(2);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name}: calls 1-10 {string.Join(" ", ms.Select(t => t.ToString("F2", CultureInfo.InvariantCulture)))} ms; first / median of 6-10 = {ms[0] / late:F2}"));
    }
}
