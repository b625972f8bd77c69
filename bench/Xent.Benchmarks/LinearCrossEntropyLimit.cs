using System.Diagnostics;
using System.Globalization;
using Xent.Baselines;
using Xent.Kernels;

namespace Xent.Benchmarks;

/// <summary>
/// The fused head against the FMA limit in one process, interleaved round by round: the fused LossAndGradients (and
/// Loss), then the same number of flops as bare FMA chains on as many threads (<see cref="FlopLimit.Spend"/>). The
/// matrix work counted is the products' nominal 6 N D V (2 N D V for Loss); the epilogues (exp, the gradient
/// formulas) and any recomputed tiles are extra work inside the measured time. Prints per method the median
/// GFLOP/s, and the median, min and max over rounds of the share of the limit (limit time / call time), for wall
/// and for process CPU time (all threads; a loaded machine disturbs it less), with the call's CPU seconds and the
/// limit's GFLOP per CPU second (to place a peer measured in CPU time, such as PyTorch, against the same limit).
/// Rounds start after a warm-up past tiered compilation (see Run), and a last line counts the JIT's compilations in them.
/// Each fused call comes right after an untimed <see cref="PoolLead"/>, the FMA chains after none.
/// Run: dotnet run -c Release --project bench/Xent.Benchmarks -- lce-limit [rounds] [N D V]
/// XENT_AB=panelpf or blocked: the fused call with and without one of MatMul's choices, interleaved (see below).
/// Also "lce-hash": a hash of every output of the fused calls over a set of option combinations, to compare two
/// builds bit for bit (run at each width with XENT_VECTOR_WIDTH).
/// </summary>
internal static class LinearCrossEntropyLimit
{
    public static void Run(string[] args)
    {
        int rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 5;
        int n = args.Length > 3 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2048;
        int d = args.Length > 3 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 768;
        int v = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 50257;
        int threads = Environment.ProcessorCount;
        var x = new LinearCrossEntropyInputs(n, d, v, "random");
        var dh = new float[n * d];
        var dw = new float[(long)v * d];
        double flop = 2.0 * n * d * v;
        // Each call takes the first t tokens: the rounds call all N, the warm-up fewer (see below).
        Span<float> H(int t) => x.Hidden.AsSpan(0, t * d);
        Span<int> Y(int t) => x.Targets.AsSpan(0, t);
        Span<float> DH(int t) => dh.AsSpan(0, t * d);
        var methods = new (string Name, double Flop, Action<int> Call)[]
        {
            ("Fused LossAndGradients", 3 * flop, t => LinearCrossEntropy.LossAndGradients(H(t), x.Weight, Y(t), new(DH(t), dw))),
            ("Fused Loss", flop, t => LinearCrossEntropy.Loss(H(t), x.Weight, Y(t))),
        };
        if (Environment.GetEnvironmentVariable("XENT_AB") == "panelpf")
        {
            // The logits tiles without the next strip's prefetch (Xent.LinearAlgebra.MatMul.PanelPrefetch), interleaved.
            methods =
            [
                ("Fused LossAndGradients", 3 * flop, t => { Xent.LinearAlgebra.MatMul.PanelPrefetch = true; LinearCrossEntropy.LossAndGradients(H(t), x.Weight, Y(t), new(DH(t), dw)); }),
                ("LossAndGradients, no pf", 3 * flop, t => { Xent.LinearAlgebra.MatMul.PanelPrefetch = false; LinearCrossEntropy.LossAndGradients(H(t), x.Weight, Y(t), new(DH(t), dw)); }),
            ];
        }

        if (Environment.GetEnvironmentVariable("XENT_AB") == "blocked")
        {
            // The logits tiles in Panels' order (Xent.LinearAlgebra.MatMul.BlockedPanels cleared), interleaved; Loss too
            // with XENT_LOSS=1.
            Action<int> With(bool blocked, Action<int> call) => t => { Xent.LinearAlgebra.MatMul.BlockedPanels = blocked; call(t); };
            Action<int> lag = t => LinearCrossEntropy.LossAndGradients(H(t), x.Weight, Y(t), new(DH(t), dw));
            Action<int> loss = t => LinearCrossEntropy.Loss(H(t), x.Weight, Y(t));
            methods =
            [
                ("LossAndGradients", 3 * flop, With(true, lag)),
                ("LossAndGradients, old", 3 * flop, With(false, lag)),
                .. Environment.GetEnvironmentVariable("XENT_LOSS") == "1"
                    ? new (string, double, Action<int>)[] { ("Loss", flop, With(true, loss)), ("Loss, old", flop, With(false, loss)) }
                    : [],
            ];
        }

        // Warm-up past tiered compilation (TierUp): with one warm-up call the per-block code (RunBlock, MergeBlock,
        // Coefficients, ReduceHidden: 16 calls a call) was at tier 0 or compiling in the first rounds (97 methods, 25 ms
        // of JIT in 3 rounds), though against seconds-long calls the share did not move beyond the noise. 40 full
        // calls would take minutes; two token blocks (256 tokens, the full D and V: the same groups, tiles and cache as
        // the full call, a first and a later block) run the same code in a few seconds, then one full round.
        int warmTokens = Math.Min(n, 2 * 128);
        // Each call follows the FMA chains on threads of their own, which outlast the pool worker's spin: an untimed lead
        // right before it (never before the limit, which a spinning worker would slow) leaves the worker awake.
        var lead = PoolLead.Wake(threads);
        TierUp.Warm([.. methods.Select(m => (Action)(() => m.Call(warmTokens))), () => FlopLimit.Spend(1e7, threads), lead]);
        var wall = methods.Select(_ => new List<(double Call, double Limit)>()).ToArray();
        var cpu = methods.Select(_ => new List<(double Call, double Limit)>()).ToArray();
        var jit = TierUp.Compiled();
        for (int r = -1; r < rounds; r++)
        {
            jit = r == 0 ? TierUp.Compiled() : jit;
            for (int i = 0; i < methods.Length; i++)
            {
                lead();
                var (w, c) = Time(() => methods[i].Call(n));
                double fl = methods[i].Flop;
                double calls = FlopLimit.Calls(fl);
                var (lw, lc) = Time(() => FlopLimit.Spend(fl * calls, threads));
                (lw, lc) = (lw / calls, lc / calls);
                if (r >= 0)
                {
                    wall[i].Add((w, lw));
                    cpu[i].Add((c, lc));
                }
            }
        }

        string jitLine = TierUp.CompiledSince(jit);
        Console.WriteLine($"N={n} D={d} V={v}, width {Simd.Width}, {threads} threads, {rounds} interleaved rounds (after a warm-up past tiered compilation on {warmTokens} tokens and one full round)");
        Console.WriteLine("method                  | call s (median)   | GFLOP/s | limit GFLOP/s | share of FMA limit, wall: median (min - max) | CPU: median (min - max) | call CPU s | limit GFLOP per CPU s");
        for (int i = 0; i < methods.Length; i++)
        {
            var share = wall[i].Select(t => t.Limit / t.Call).Order().ToList();
            var shareCpu = cpu[i].Select(t => t.Limit / t.Call).Order().ToList();
            double callS = Median(wall[i].Select(t => t.Call)), limitS = Median(wall[i].Select(t => t.Limit));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{methods[i].Name,-23} | {callS,8:F3} | {methods[i].Flop / callS / 1e9,7:F0} | {methods[i].Flop / limitS / 1e9,13:F0} | {Median(share),6:P1} ({share[0]:P1} - {share[^1]:P1}) | {Median(shareCpu),6:P1} ({shareCpu[0]:P1} - {shareCpu[^1]:P1}) | {Median(cpu[i].Select(t => t.Call)),8:F3} | {methods[i].Flop / Median(cpu[i].Select(t => t.Limit)) / 1e9,6:F0}"));
        }

        Console.WriteLine(jitLine);
    }

    /// <summary>Prints a hash of the loss and every gradient of the fused calls for a set of shapes and options.</summary>
    public static unsafe void Hash(string[] args)
    {
        var cases = new (string Name, int N, int D, int V, LinearCrossEntropyOptions Options, bool Bias, bool BFloat16)[]
        {
            ("plain", 300, 200, 3001, new(), false, false),
            ("bias-smooth-cap-z", 300, 200, 3001, new() { CrossEntropy = new() { LabelSmoothing = 0.1f, SoftCap = 15, ZLoss = 1e-3f } }, true, false),
            ("no-cache", 257, 96, 7001, new() { CacheBytes = 0 }, true, false),
            ("filtered", 300, 200, 3001, new() { FilterThreshold = 1e-5f }, false, false),
            ("filtered-peaky", 300, 64, 5003, new() { FilterThreshold = 1e-4f }, false, false),
            ("accumulate", 129, 77, 1001, new() { Accumulate = true }, true, false),
            ("deep", 140, 1100, 900, new(), false, false),
            ("one-thread", 200, 200, 3001, new() { CrossEntropy = new() { MaxDegreeOfParallelism = 1 } }, false, false),
            ("bf16", 200, 128, 2003, new(), true, true),
        };
        foreach (var c in cases)
        {
            var rng = new Random(5);
            float scale = c.Name.Contains("peaky", StringComparison.Ordinal) ? 8f : 1f;
            var h = Enumerable.Range(0, c.N * c.D).Select(_ => (float)(rng.NextDouble() - 0.5) * scale).ToArray();
            var w = Enumerable.Range(0, c.V * c.D).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
            var b = c.Bias ? Enumerable.Range(0, c.V).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray() : [];
            var y = Enumerable.Range(0, c.N).Select(i => i % 17 == 0 ? -100 : rng.Next(c.V)).ToArray();
            var dh = Enumerable.Range(0, c.N * c.D).Select(_ => (float)rng.NextDouble()).ToArray();
            var dw = Enumerable.Range(0, c.V * c.D).Select(_ => (float)rng.NextDouble()).ToArray();
            var db = c.Bias ? new float[c.V] : [];
            var lse = new float[c.N];
            float loss;
            if (c.BFloat16)
            {
                var hb = h.Select(f => (BFloat16)f).ToArray();
                var wb = w.Select(f => (BFloat16)f).ToArray();
                loss = LinearCrossEntropy.LossAndGradients(hb, wb, b, y, new(dh, dw, db), 1f, lse, c.Options);
            }
            else
            {
                loss = LinearCrossEntropy.LossAndGradients(h, w, b, y, new(dh, dw, db), 1f, lse, c.Options);
            }

            float fwd = LinearCrossEntropy.Loss(h, w, y);
            Console.WriteLine($"{c.Name,-20} loss {BitConverter.SingleToInt32Bits(loss):X8} forward {BitConverter.SingleToInt32Bits(fwd):X8} dh {Fnv(dh):X16} dw {Fnv(dw):X16} db {Fnv(db):X16} lse {Fnv(lse):X16}");
        }
    }

    private static ulong Fnv(float[] x)
    {
        ulong hash = 14695981039346656037;
        foreach (float f in x)
        {
            hash = (hash ^ (uint)BitConverter.SingleToInt32Bits(f)) * 1099511628211;
        }

        return hash;
    }

    private static double Median(IEnumerable<double> values)
    {
        var s = values.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[(s.Count / 2) - 1] + s[s.Count / 2]) / 2;
    }

    private static (double Wall, double Cpu) Time(Action action)
    {
        var cpu = Environment.CpuUsage.TotalTime;
        long start = Stopwatch.GetTimestamp();
        action();
        return (Stopwatch.GetElapsedTime(start).TotalSeconds, (Environment.CpuUsage.TotalTime - cpu).TotalSeconds);
    }
}
