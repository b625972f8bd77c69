using System.Globalization;
using Xent.LinearAlgebra;

namespace Xent.Benchmarks;

/// <summary>
/// <see cref="MatMul.Gemm"/>'s paths for few rows (the swapped path: op(A)^T packed, B stored [N, K] read in place; for
/// B stored [K, N], one row block per thread) against the ones they replace (<see cref="MatMul.DisableSwap"/>), in one process, interleaved: per round, the old path's CPU time, the new path's and the
/// same flops as bare FMA chains (<see cref="FlopLimit.Spend"/>, spent at once for enough products to be steady, <see cref="FlopLimit.Calls"/>,
/// and scaled to one), after a warm-up past tiered compilation. Prints per shape the median [4th lowest - 4th
/// highest] over 15 rounds of the new/old time ratio and of each path's share of the FMA limit.
/// Run: dotnet bench/Xent.Benchmarks/bin/Release/net10.0/Xent.Benchmarks.dll gemm-ab threads MxNxK:layout ...
/// With XENT_AB=stream the old path is <see cref="MatMul.DisableStream"/> (B packed whole before the tiles, for few rows
/// and B stored [K, N]). With XENT_AB=packpf the old path packs A stored [K, M] without prefetching its source
/// (<see cref="MatMul.PackPrefetchPanels"/> = 0; XENT_PFP sets the new one's, default 4); with XENT_AB=hint the old path
/// prefetches, after a task's last A block, its own rows in the next K block instead of the rows its thread takes next.
/// With XENT_AB=rowsc the old path's Rows does not prefetch the next tile's rows of C (<see cref="MatMul.RowsPrefetchC"/>),
/// with XENT_AB=swapc the swapped path does not prefetch the rows of C its next slice goes to
/// (<see cref="MatMul.SwapPrefetchC"/>), with XENT_AB=new neither. With XENT_AB=splitk the old path does not split
/// weight gradients by their sum blocks (<see cref="MatMul.DisableSplitK"/>). Any other value is refused (exit code 2):
/// both paths would be the same code. So is XENT_AB=fastrows: <see cref="Packing.FastRows"/> serves only the fused
/// head's 2-vector 512-bit panels, which no Gemm path packs.
/// </summary>
internal static class GemmAb
{
    // Rounds per shape: XENT_ROUNDS, default 15.
    private static readonly int Rounds = int.Parse(Environment.GetEnvironmentVariable("XENT_ROUNDS") ?? "15", CultureInfo.InvariantCulture);

    public static void Run(string[] args)
    {
        int threads = int.Parse(args[0], CultureInfo.InvariantCulture);
        // Which switch: the few-rows paths (default) or, with "stream", the streamed-B path (MatMul.DisableStream).
        string which = Environment.GetEnvironmentVariable("XENT_AB") ?? "swap";
        if (Refusal(which) is { } refusal)
        {
            Console.Error.WriteLine($"gemm-ab: XENT_AB={which}: {refusal}");
            Environment.ExitCode = 2;
            return;
        }

        foreach (string spec in args[1..])
        {
            string[] parts = spec.Split(':');
            int[] s = [.. parts[0].Split('x').Select(x => int.Parse(x, CultureInfo.InvariantCulture))];
            int m = s[0], n = s[1], k = s[2];
            bool ta = parts[1][0] == 't', tb = parts[1][1] == 't';
            var r = new Random(1);
            var a = new float[m * k];
            var b = new float[n * k];
            var c = new float[m * n];
            for (int i = 0; i < a.Length; i++)
            {
                a[i] = (float)(r.NextDouble() - 0.5);
            }

            for (int i = 0; i < b.Length; i++)
            {
                b[i] = (float)(r.NextDouble() - 0.5);
            }

            double flop = 2.0 * m * n * k;
            int reps = (int)Math.Clamp(Math.Ceiling(0.03 * 300e9 / flop), 1, 1000);
            void Call() => MatMul.Gemm(ta, tb, m, n, k, 1, a, ta ? m : k, b, tb ? k : n, 0, c, n, threads);
            // Both paths past tiered compilation first (40 calls or 1.5 s each, then a pause): with only the rounds'
            // own first calls to warm them, the first rounds timed the paths' drivers at tier 0.
            TierUp.WarmCapped([() => { SetOld(which, true); Call(); }, () => { SetOld(which, false); Call(); }]);
            var ratio = new List<double>();
            var shareNew = new List<double>();
            var shareOld = new List<double>();
            for (int round = 0; round < Rounds; round++)
            {
                // Odd rounds time the new path first: whichever runs first after the FMA chains (fresh threads) was
                // measured up to 5% slower (the same code against itself gave 0.92-1.00 in that order).
                double old = 0, nw = 0;
                for (int half = 0; half < 2; half++)
                {
                    bool runOld = (half == 0) == (round % 2 == 0);
                    SetOld(which, runOld);
                    double t = T(Call, reps);
                    if (runOld)
                    {
                        old = t;
                    }
                    else
                    {
                        nw = t;
                    }
                }

                // The limit's flops spent at once, enough to be steady, then scaled to one product's.
                double calls = FlopLimit.Calls(flop);
                double lim = T(() => FlopLimit.Spend(flop * calls, threads), 1) / calls;
                ratio.Add(nw / old);
                shareNew.Add(lim / nw);
                shareOld.Add(lim / old);
            }

            static string Q(List<double> x) => string.Create(CultureInfo.InvariantCulture, $"{x.Order().ElementAt(x.Count / 2):F3} [{x.Order().ElementAt(x.Count / 5):F3}-{x.Order().ElementAt(x.Count - 1 - (x.Count / 5)):F3}]");
            Console.WriteLine($"{spec} {threads}t CPU: new/old time {Q(ratio)}  share old {Q(shareOld)} new {Q(shareNew)}");
        }
    }

    // The switches SetOld turns; with any other value both paths would be the same code, a ratio of noise.
    private static readonly string[] Switches =
        ["swap", "rowsinplace", "stream", "hint", "swappf", "all", "rowsc", "swapc", "new", "inplace", "streamc", "splitk", "packpf"];

    // Why a value cannot be timed here, or null. Packing.FastRows (once XENT_AB=fastrows) only changes the packing of
    // a lone 2-vector 512-bit B micro-panel, and no Gemm path packs one at any width (4-vector panels at 512 bits,
    // 2-vector ones of 256 or 128 bits below): only the fused head's do (LinearCrossEntropy).
    private static string? Refusal(string which) =>
        which == "fastrows"
            ? "Packing.FastRows only changes how a lone 2-vector 512-bit B micro-panel is packed, which MatMul.Gemm never packs at any width (its panels are 4 vectors wide at 512 bits, 2 vectors of 256 or 128 bits below); only the fused head (LinearCrossEntropy) packs them, and gemm-ab does not run it."
            : which == "nosplitk"
            ? "XENT_AB=nosplitk turns split-K off on both paths, so both would be the same code; XENT_AB=splitk times split-K against the paths it replaces (nosplitk is for the other benchmarks, which read it at start-up)."
            : Array.IndexOf(Switches, which) < 0
            ? $"not a switch of gemm-ab, so both paths would be the same code; one of: {string.Join(", ", Switches)}."
            : null;

    private static void SetOld(string which, bool old)
    {
        MatMul.DisableSwap = old && which == "swap";
        MatMul.RowsInPlaceA = !old || which != "rowsinplace";
        MatMul.DisableStream = old && which == "stream";
        MatMul.PackPrefetchHint = !old || which != "hint";
        MatMul.SwapPrefetch = !old || (which != "swappf" && which != "all");
        MatMul.PanelPrefetch = !old || which != "all";
        MatMul.RowsPrefetchC = !old || (which != "rowsc" && which != "new");
        MatMul.SwapPrefetchC = !old || (which != "swapc" && which != "new");
        MatMul.StreamInPlaceA = !old || (which != "inplace" && which != "all");
        MatMul.StreamPrefetchC = !old || which != "streamc";
        MatMul.DisableSplitK = old && which == "splitk";
        if (which == "packpf")
        {
            // XENT_PFP: the new setting's micro-panels (default 4); the old one is 0 (no prefetch).
            MatMul.PackPrefetchPanels = old ? 0 : int.Parse(Environment.GetEnvironmentVariable("XENT_PFP") ?? "4", CultureInfo.InvariantCulture);
        }
    }

    private static double T(Action f, int reps)
    {
        f();
        var cpu = Environment.CpuUsage.TotalTime;
        for (int i = 0; i < reps; i++)
        {
            f();
        }

        return (Environment.CpuUsage.TotalTime - cpu).TotalSeconds / reps;
    }
}
