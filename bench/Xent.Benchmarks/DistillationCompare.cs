using System.Diagnostics;
using System.Globalization;
using Xent.Distillation;
using Xent.LinearAlgebra;

namespace Xent.Benchmarks;

/// <summary>
/// LinearDistillation.LossAndGradients against twice the fused LinearCrossEntropy.LossAndGradients at the same N, D and
/// V (the products it must do: a student and a teacher product, the student's two gradient products), interleaved
/// round by round so that machine load hits both alike. Prints each one's median (range), the median (range) of the
/// per-round ratio distillation / (2 x fused), the flops of the kernel's design (each sweep over the vocabulary
/// recomputes both logits tiles: 2 N (D + D_t) V; the gradient products 4 N D V) and the share of the FMA limit
/// (<see cref="FlopLimit"/>, measured in the same process before and after the rounds) they run at, by wall clock
/// and per CPU-second of the process (the FMA chains' flops per CPU-second: the share that other jobs do not skew).
/// Run: dotnet run -c Release --project bench/Xent.Benchmarks -- distill-compare [rounds] [N D V [beta]]
/// With "profile" first (distill-compare profile [rounds] [N D V [beta]]) it times, per round, the call and the
/// same matrix products alone (the tiles of every sweep and the gradient products, as the kernel issues them):
/// the difference is the element-wise work and the kernel's own overhead.
/// </summary>
internal static class DistillationCompare
{
    public static void Run(string[] args)
    {
        bool profile = args.Length > 0 && args[0] == "profile";
        if (profile)
        {
            args = args[1..];
        }

        int rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 3;
        int n = args.Length > 3 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2048;
        int d = args.Length > 3 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 768;
        int v = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 50257;
        float beta = args.Length > 4 ? float.Parse(args[4], CultureInfo.InvariantCulture) : 0.5f;
        var x = new LinearCrossEntropyInputs(n, d, v, "random");
        var teacher = new LinearCrossEntropyInputs(n, d, v, "random");
        var dh = new float[n * d];
        var dw = new float[(long)v * d];
        var options = new DistillationOptions { Beta = beta, Temperature = 2f };
        int sweeps = (beta is 0f or 1f ? 1 : 2) + 1;
        var methods = new List<(string Name, Action Call)>
        {
            ("distillation", () => LinearDistillation.LossAndGradients(x.Hidden, x.Weight, teacher.Hidden, teacher.Weight, x.Targets, dh, dw, options)),
            profile
                ? ("its matrix products alone", () => Products(x, teacher, dh, dw, sweeps))
                : ("fused LinearCrossEntropy", () => LinearCrossEntropy.LossAndGradients(x.Hidden, x.Weight, x.Targets, new(dh, dw))),
        };
        var times = methods.Select(_ => new List<double>()).ToArray();
        var cpu = methods.Select(_ => new List<double>()).ToArray();
        Console.WriteLine($"{DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, load {File.ReadAllText("/proc/loadavg").Trim()}, width {Simd.Width}");
        double limitBefore = FlopLimit.Measure(Environment.ProcessorCount);
        var process = Process.GetCurrentProcess();
        for (int r = -1; r < rounds; r++)
        {
            for (int i = 0; i < methods.Count; i++)
            {
                process.Refresh();
                var cpu0 = process.TotalProcessorTime;
                var sw = Stopwatch.StartNew();
                methods[i].Call();
                if (r >= 0)
                {
                    times[i].Add(sw.Elapsed.TotalSeconds);
                    process.Refresh();
                    cpu[i].Add((process.TotalProcessorTime - cpu0).TotalSeconds);
                }
            }
        }

        double limitAfter = FlopLimit.Measure(Environment.ProcessorCount);
        double cpuLimit = CpuLimit(Environment.ProcessorCount);
        var ratios = times[0].Select((t, r) => t / ((profile ? 1 : 2) * times[1][r])).ToList();
        Console.WriteLine($"N={n} D={d} V={v}, D_t={d}, beta {beta}, T 2, {rounds} interleaved rounds after one warm-up round, seconds (wall; CPU):");
        foreach (var ((name, _), t, c) in methods.Zip(times, cpu))
        {
            Console.WriteLine($"| {name} | {Median(t):F2} ({t.Min():F2}-{t.Max():F2}) | {Median(c):F2} ({c.Min():F2}-{c.Max():F2}) |");
        }

        Console.WriteLine(profile
            ? $"distillation / its products: {Median(ratios):F2} ({ratios.Min():F2}-{ratios.Max():F2})"
            : $"distillation / (2 x fused): {Median(ratios):F2} ({ratios.Min():F2}-{ratios.Max():F2})");
        double design = (sweeps * 2.0 * n * (d + d) * v) + (4.0 * n * d * v);
        double essential = (2.0 * n * (d + d) * v) + (4.0 * n * d * v);
        double rate = design / Median(times[0]) / 1e9;
        Console.WriteLine($"design {design / 1e9:F0} GFLOP ({sweeps} sweeps; essential {essential / 1e9:F0}): {rate:F0} GFLOP/s; FMA limit {limitBefore:F0} before, {limitAfter:F0} after: " +
            $"{rate / Math.Max(limitBefore, limitAfter):P0} of the larger; load {File.ReadAllText("/proc/loadavg").Trim()}");
        double cpuRate = design / Median(cpu[0]) / 1e9;
        Console.WriteLine($"per CPU-second (load-proof): {cpuRate:F0} GFLOP against the FMA chains' {cpuLimit:F0}: {cpuRate / cpuLimit:P0} of the FMA limit");
    }

    /// <summary>GFLOP per CPU-second of the FMA chains on all threads (process CPU time, so other jobs do not count).</summary>
    private static double CpuLimit(int threads)
    {
        const double flop = 200e9;
        var process = Process.GetCurrentProcess();
        process.Refresh();
        var cpu0 = process.TotalProcessorTime;
        FlopLimit.Spend(flop, threads);
        process.Refresh();
        return flop / (process.TotalProcessorTime - cpu0).TotalSeconds / 1e9;
    }

    /// <summary>The kernel's products alone: per token block and sweep the student and teacher tiles, then the gradient products.</summary>
    private static void Products(LinearCrossEntropyInputs x, LinearCrossEntropyInputs t, float[] dh, float[] dw, int sweeps)
    {
        int n = x.N, d = x.D, v = x.V, b0 = DistillationKernel.TokenBlock, w0 = DistillationKernel.TileColumns;
        int groups = DistillationKernel.GroupCount(v);
        var s = new float[groups][];
        var tt = new float[groups][];
        var hidden = new float[groups][];
        for (int g = 0; g < groups; g++)
        {
            (s[g], tt[g], hidden[g]) = (new float[b0 * w0], new float[b0 * w0], new float[b0 * d]);
        }

        for (int n0 = 0; n0 < n; n0 += b0)
        {
            int b = Math.Min(b0, n - n0);
            for (int sweep = 0; sweep < sweeps; sweep++)
            {
                bool last = sweep == sweeps - 1;
                Parallel.For(0, groups, g =>
                {
                    int start = (int)((long)v * g / groups / w0 * w0), end = g == groups - 1 ? v : (int)((long)v * (g + 1) / groups / w0 * w0);
                    for (int c0 = start; c0 < end; c0 += w0)
                    {
                        int w = Math.Min(w0, end - c0);
                        MatMul.Gemm(false, true, b, w, d, 1f, x.Hidden.AsSpan(n0 * d, b * d), d, x.Weight.AsSpan(c0 * d, w * d), d, 0f, s[g].AsSpan(0, b * w), w, 1);
                        MatMul.Gemm(false, true, b, w, d, 1f, t.Hidden.AsSpan(n0 * d, b * d), d, t.Weight.AsSpan(c0 * d, w * d), d, 0f, tt[g].AsSpan(0, b * w), w, 1);
                        if (last)
                        {
                            s[g].AsSpan(0, b * w).Fill(1e-4f);
                            MatMul.Gemm(false, false, b, d, w, 1f, s[g].AsSpan(0, b * w), w, x.Weight.AsSpan(c0 * d, w * d), d, c0 == start ? 0f : 1f, hidden[g].AsSpan(0, b * d), d, 1);
                            MatMul.Gemm(true, false, w, d, b, 1f, s[g].AsSpan(0, b * w), w, x.Hidden.AsSpan(n0 * d, b * d), d, 1f, dw.AsSpan(c0 * d, w * d), d, 1);
                        }
                    }
                });
            }

            hidden[0].AsSpan(0, b * d).CopyTo(dh.AsSpan(n0 * d));
        }
    }

    private static double Median(List<double> x)
    {
        var s = x.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[(s.Count / 2) - 1] + s[s.Count / 2]) / 2;
    }
}
