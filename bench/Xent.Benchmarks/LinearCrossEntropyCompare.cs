using System.Diagnostics;
using Xent.LinearAlgebra;

namespace Xent.Benchmarks;

/// <summary>
/// Fused vs unfused interleaved round by round (A B C D E, A B C D E, ...), so that a change in machine load hits
/// every method alike; BenchmarkDotNet runs methods one after another, which on a shared machine can put one
/// method in a quiet minute and another in a busy one. Prints median, min and max wall time, the median of the
/// per-round ratios to the unfused LossAndGradients, and the median process CPU time per call (all threads) with
/// its ratio, which time-slicing by other processes does not inflate. Rounds start after a warm-up past tiered
/// compilation (<see cref="TierUp.WarmCapped"/>, 3 s per method); a last line counts the JIT's compilations in them.
/// Run: dotnet run -c Release --project bench/Xent.Benchmarks -- lce-compare [random|peaked] [rounds] [N D V]
/// </summary>
internal static class LinearCrossEntropyCompare
{
    public static void Run(string[] args)
    {
        string kind = args.Length > 0 ? args[0] : "random";
        int rounds = args.Length > 1 ? int.Parse(args[1]) : 5;
        int n = args.Length > 4 ? int.Parse(args[2]) : 2048;
        int d = args.Length > 4 ? int.Parse(args[3]) : 768;
        int v = args.Length > 4 ? int.Parse(args[4]) : 50257;
        var x = new LinearCrossEntropyInputs(n, d, v, kind);
        var dh = new float[n * d];
        var dw = new float[v * d];
        var logits = new float[n * v];
        var filtered = new LinearCrossEntropyOptions { FilterThreshold = x.FilterThreshold };
        var methods = new (string Name, Action Call)[]
        {
            ("Fused Loss", () => LinearCrossEntropy.Loss(x.Hidden, x.Weight, x.Targets)),
            ("Fused LossAndGradients", () => LinearCrossEntropy.LossAndGradients(x.Hidden, x.Weight, x.Targets, new(dh, dw))),
            ("Fused LossAndGradients filtered", () => LinearCrossEntropy.LossAndGradients(x.Hidden, x.Weight, x.Targets, new(dh, dw), filtered)),
            ("Unfused Loss", () =>
            {
                MatMul.Gemm(false, true, n, v, d, 1, x.Hidden, d, x.Weight, d, 0, logits, v);
                CrossEntropy.Loss(logits, x.Targets);
            }),
            ("Unfused LossAndGradients", () =>
            {
                MatMul.Gemm(false, true, n, v, d, 1, x.Hidden, d, x.Weight, d, 0, logits, v);
                CrossEntropy.LossAndGradient(logits, x.Targets, logits);
                MatMul.Gemm(false, false, n, d, v, 1, logits, v, x.Weight, d, 0, dh, d);
                MatMul.Gemm(true, false, v, d, n, 1, logits, v, x.Hidden, d, 0, dw, d);
            }),
        };
        var times = methods.Select(_ => new List<double>()).ToArray();
        var cpu = methods.Select(_ => new List<double>()).ToArray();
        var process = Process.GetCurrentProcess();

        // Warm-up past tiered compilation: each method until 40 calls or 3 s of them (three or more full calls), then
        // one round. With one warm-up round the fused calls' per-block code (16 calls a call) was still at tier 0 or
        // compiling in the first timed rounds (as lce-limit's was).
        TierUp.WarmCapped([.. methods.Select(m => m.Call)], capSeconds: 3);
        var jit = TierUp.Compiled();
        for (int r = -1; r < rounds; r++)
        {
            jit = r == 0 ? TierUp.Compiled() : jit;
            for (int i = 0; i < methods.Length; i++)
            {
                process.Refresh();
                var cpu0 = process.TotalProcessorTime;
                var sw = Stopwatch.StartNew();
                methods[i].Call();
                double wall = sw.Elapsed.TotalSeconds;
                process.Refresh();
                if (r >= 0)
                {
                    times[i].Add(wall);
                    cpu[i].Add((process.TotalProcessorTime - cpu0).TotalSeconds);
                }
            }
        }

        string jitLine = TierUp.CompiledSince(jit);
        Console.WriteLine($"{kind} N={n} D={d} V={v}, {rounds} interleaved rounds (after a warm-up past tiered compilation and one more round):");
        var baseline = times[^1];
        for (int i = 0; i < methods.Length; i++)
        {
            var ratios = times[i].Select((t, r) => t / baseline[r]).ToList();
            var cpuRatios = cpu[i].Select((t, r) => t / cpu[^1][r]).ToList();
            Console.WriteLine($"| {methods[i].Name} | {Median(times[i]):F3} | {times[i].Min():F3} - {times[i].Max():F3} | {Median(ratios):F2} ({ratios.Min():F2} - {ratios.Max():F2}) | {Median(cpu[i]):F2} | {Median(cpuRatios):F2} |");
        }

        Console.WriteLine(jitLine);
    }

    private static double Median(List<double> x)
    {
        var s = x.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[(s.Count / 2) - 1] + s[s.Count / 2]) / 2;
    }
}
