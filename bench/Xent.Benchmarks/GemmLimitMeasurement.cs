using System.Diagnostics;
using System.Globalization;
using Xent.Baselines;
using Xent.Kernels;
using Xent.LinearAlgebra;

namespace Xent.Benchmarks;

/// <summary>
/// <see cref="MatMul.Gemm"/> against the FMA limit in one process, interleaved: every round times each shape's
/// product and then the same number of flops as bare FMA chains on as many threads (<see cref="FlopLimit.Spend"/>),
/// so a machine shared with other work disturbs both alike. Prints, per shape, the median over rounds of the
/// per-round ratio (limit time / Gemm time: the share of the FMA limit reached), the best round's ratio (best Gemm
/// time against best limit time, the least disturbed figures), and the best GFLOP/s of each.
/// Run: dotnet run -c Release --project bench/Xent.Benchmarks -- gemm-limit [rounds] [threads] [shape ...]
/// where a shape is MxNxK:layout with layout nn, nt (B stored [N, K]) or tn (A stored [K, M]); without shapes, the
/// GPT-2-small training set (<see cref="TrainingShapes"/>). The CPU columns are the same ratios of the process's CPU
/// time (all threads), which a loaded machine disturbs less. Rounds start after a warm-up past tiered compilation
/// (see <see cref="WarmUp"/>). A last line per shape, "json {...}", lists every round's seconds per call of each, for
/// bench/compare/compare.py.
/// </summary>
internal static class GemmLimitMeasurement
{
    /// <summary>The products of a GPT-2-small training step at N = 2048 tokens, D = 768, V = 50257, and N = 256/8192 ends.</summary>
    public static readonly string[] TrainingShapes =
    [
        "2048x50257x768:nt",   // head logits h W^T
        "2048x2304x768:nt",    // qkv forward
        "2048x3072x768:nt",    // MLP up forward
        "2048x768x3072:nt",    // MLP down forward
        "2048x768x3072:nn",    // MLP up backward dX = dY W
        "2048x3072x768:nn",    // MLP down backward dX
        "2304x768x2048:tn",    // qkv backward dW = dY^T X
        "768x3072x2048:tn",    // MLP down backward dW
        "256x3072x768:nt",
        "8192x3072x768:nt",
        "3072x768x8192:tn",
    ];

    public static void Run(string[] args)
    {
        int rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 7;
        int threads = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : Environment.ProcessorCount;
        string[] shapes = args.Length > 2 ? args[2..] : TrainingShapes;
        var cases = shapes.Select(s => new Case(s, threads)).ToArray();
        Console.WriteLine($"width {Simd.Width}, {threads} threads, {rounds} rounds, {Environment.ProcessorCount} cores, L2 {CpuCaches.L2Bytes >> 10} KB: A blocks of {PanelShape.For(Simd.Width).Mc} rows");
        WarmUp(cases, threads);

        for (int r = 0; r < rounds; r++)
        {
            foreach (var c in cases)
            {
                c.Round();
            }
        }

        Console.WriteLine("shape            layout  median ratio  best ratio  CPU median  CPU best  best GFLOP/s  best limit GFLOP/s  rounds");
        foreach (var c in cases)
        {
            Console.WriteLine(c.Summary());
        }

        foreach (var c in cases)
        {
            Console.WriteLine(c.Json());
        }
    }

    /// <summary>
    /// Warm-up past tiered compilation (as <see cref="TierUp"/>, with a time cap for the large shapes): the kernels are
    /// compiled optimised from their first call, but the drivers around them (the paths' task lambdas, the packing, the
    /// transposition of the swapped path) start at tier 0 and are promoted after 30 calls, compiled on a background
    /// thread whose CPU time is the process's. compare.py runs one round per process: with three warm-up calls the
    /// round timed those drivers and their tier-1 compilations (256 x 3072 x 768 'nt', the only shape there on the
    /// swapped path, in compare.py's process of 11 shapes: 67% [50-76%] of the FMA limit, CPU, median [range] of 5
    /// processes, against 85% [82-87%] with this warm-up, interleaved; Zen 5, 512 bits). Every case runs in turn until it
    /// has had 40 calls or 1.5 s of them, then a pause lets the background compilations finish, then each runs a few
    /// more calls.
    /// </summary>
    private static void WarmUp(Case[] cases, int threads)
    {
        var seconds = new double[cases.Length];
        var calls = new int[cases.Length];
        for (bool any = true; any;)
        {
            any = false;
            for (int i = 0; i < cases.Length; i++)
            {
                if (calls[i] < 40 && seconds[i] < 1.5)
                {
                    long start = Stopwatch.GetTimestamp();
                    cases[i].Call();
                    seconds[i] += Stopwatch.GetElapsedTime(start).TotalSeconds;
                    calls[i]++;
                    any = true;
                }
            }
        }

        for (int i = 0; i < 40; i++)
        {
            FlopLimit.Spend(1e7, threads);
        }

        Thread.Sleep(300);
        foreach (var c in cases)
        {
            c.WarmUp();
        }
    }

    private sealed class Case
    {
        private readonly int m, n, k, threads, reps;
        private readonly bool ta, tb;
        private readonly string name, layout;
        private readonly float[] a, b, c;
        private readonly List<double> gemm = [], limit = [], gemmCpu = [], limitCpu = [];
        private readonly Action lead;

        public Case(string spec, int threads)
        {
            string[] parts = spec.Split(':');
            int[] s = [.. parts[0].Split('x').Select(x => int.Parse(x, CultureInfo.InvariantCulture))];
            (m, n, k) = (s[0], s[1], s[2]);
            layout = parts.Length > 1 ? parts[1] : "nn";
            (ta, tb) = (layout[0] == 't', layout[1] == 't');
            name = parts[0];
            this.threads = threads;
            lead = PoolLead.Wake(threads);
            var random = new Random(1);
            a = [.. Enumerable.Range(0, m * k).Select(_ => (float)(random.NextDouble() - 0.5))];
            b = [.. Enumerable.Range(0, k * n).Select(_ => (float)(random.NextDouble() - 0.5))];
            c = new float[m * n];

            // Enough calls per sample for about 60 ms at 300 GFLOP/s, so that small shapes are not timer noise.
            reps = (int)Math.Clamp(Math.Ceiling(0.06 * 300e9 / Flop), 1, 1000);
        }

        private double Flop => 2.0 * m * n * k;

        public void WarmUp()
        {
            for (int w = 0; w < 3; w++)
            {
                Call();
            }

            FlopLimit.Spend(Flop, threads);
            lead();
        }

        public void Round()
        {
            // The product follows FMA chains on threads of their own (the previous case's limit), which outlast the pool
            // worker's spin: an untimed lead (never before the limit, which a spinning worker would slow) wakes it.
            lead();
            var (wall, cpu) = Time(() =>
            {
                for (int i = 0; i < reps; i++)
                {
                    Call();
                }
            });
            gemm.Add(wall / reps);
            gemmCpu.Add(cpu / reps);
            double calls = reps * FlopLimit.Calls(Flop * reps);
            (wall, cpu) = Time(() => FlopLimit.Spend(Flop * calls, threads));
            limit.Add(wall / calls);
            limitCpu.Add(cpu / calls);
        }

        public string Summary()
        {
            var ratios = gemm.Zip(limit, (g, l) => l / g).Order().ToList();
            var cpuRatios = gemmCpu.Zip(limitCpu, (g, l) => l / g).Order().ToList();
            double bestGemm = gemm.Min(), bestLimit = limit.Min();
            return string.Create(CultureInfo.InvariantCulture,
                $"{name,-16} {layout,-7} {ratios[ratios.Count / 2],12:P1} {bestLimit / bestGemm,11:P1} {cpuRatios[cpuRatios.Count / 2],10:P1} {limitCpu.Min() / gemmCpu.Min(),9:P1} {Flop / bestGemm / 1e9,13:F0} {Flop / bestLimit / 1e9,19:F0}  {gemm.Count} x {reps}");
        }

        /// <summary>One line for scripts (bench/compare/compare.py): "json" then every round's seconds per call.</summary>
        public string Json() => string.Create(CultureInfo.InvariantCulture,
            $"json {{\"shape\": \"{name}:{layout}\", \"gemm_s\": [{string.Join(", ", gemm.Select(t => t.ToString("G6", CultureInfo.InvariantCulture)))}], " +
            $"\"limit_s\": [{List(limit)}], \"gemm_cpu_s\": [{List(gemmCpu)}], \"limit_cpu_s\": [{List(limitCpu)}]}}");

        private static string List(List<double> values) => string.Join(", ", values.Select(t => t.ToString("G6", CultureInfo.InvariantCulture)));

        public void Call() => MatMul.Gemm(ta, tb, m, n, k, 1, a, ta ? m : k, b, tb ? k : n, 0, c, n, threads);

        // Wall seconds and the process's CPU seconds (all threads): on a machine shared with other programs the CPU time
        // leaves out the time the threads waited for a core, which the wall time of both sides counts at random.
        private static (double Wall, double Cpu) Time(Action action)
        {
            var cpu = Environment.CpuUsage.TotalTime;
            long start = Stopwatch.GetTimestamp();
            action();
            return (Stopwatch.GetElapsedTime(start).TotalSeconds, (Environment.CpuUsage.TotalTime - cpu).TotalSeconds);
        }
    }
}
