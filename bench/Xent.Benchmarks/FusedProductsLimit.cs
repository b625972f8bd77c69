using System.Diagnostics;
using Xent.LinearAlgebra;

namespace Xent.Benchmarks;

/// <summary>
/// The fused head's three products per tile (logits tile [252, 128] over D = 768, dW rows (+)= G h, dh^T += W^T G),
/// 100 tiles of W and dW each (77 MB, from memory as in a real call), on one thread through <see cref="MatMul.Panels"/>,
/// in both tile orders (B micro-panel first, or 6-row strip first), each against the FMA limit on one thread in the
/// same process (process CPU time). Prints the median (min - max) share of the limit per product and order.
/// Run: dotnet run -c Release --project bench/Xent.Benchmarks -- fused-products [rounds]
/// </summary>
internal static unsafe class FusedProductsLimit
{
    public static void Run(string[] args)
    {
        int rounds = args.Length > 0 ? int.Parse(args[0]) : 5;
        const int d = 768, tb = 128, vb = 252, tiles = 100;
        var shape = PanelShape.For(Simd.Width, wide: false); // the fused head's dW and dh tile, not Gemm's
        var forwardShape = PanelShape.For(Simd.Width); // its logits tiles': Gemm's, in K parts
        int nr = shape.Nr;
        var rng = new Random(1);
        float[] Rand(long n) => [.. Enumerable.Range(0, checked((int)n)).Select(_ => (float)rng.NextDouble() - 0.5f)];
        var w = Rand((long)tiles * vb * d);
        var dw = Rand((long)tiles * vb * d);
        var hT = Rand((long)d * tb);
        var hN = Rand((long)d * tb);
        var g = Rand((long)vb * tb);
        var gp = Rand((long)vb * tb);
        var tile = new float[vb * tb];
        var dh = Rand((long)d * tb);
        double flop = 2.0 * vb * tb * d * tiles;
        var names = new[] { "logits tile", "dW", "dh" };
        var res = new Dictionary<string, List<double>>();
        for (int r = -1; r < rounds; r++)
        {
            bool ab = Environment.GetEnvironmentVariable("XENT_AB") == "panelpf";
            foreach (bool outer in new[] { false, true })
            {
                for (int qq = 0; qq < (ab ? 6 : 3); qq++)
                {
                    int q = ab ? qq / 2 : qq;
                    bool pf = !ab || ((qq % 2 == 0) == (r % 2 == 0));
                    MatMul.PanelPrefetch = pf;
                    double t = Cpu(() =>
                    {
                        fixed (float* pw = w, pdw = dw, pht = hT, phn = hN, pg = g, pgp = gp, pt = tile, pdh = dh)
                        {
                            for (int i = 0; i < tiles; i++)
                            {
                                float* wi = pw + ((nint)i * vb * d);
                                if (q == 0)
                                {
                                    MatMul.Panels(forwardShape, vb, tb, d, wi, d, 1, pht, (nint)d * forwardShape.Nr, pt, tb, 0, outer, kPart: Xent.Fused.FusedKernel.ForwardPart);
                                }

                                if (q == 1)
                                {
                                    MatMul.Panels(shape, vb, d, tb, pg, tb, 1, phn, (nint)tb * nr, pdw + ((nint)i * vb * d), d, 1, outer);
                                }

                                if (q == 2)
                                {
                                    MatMul.Panels(shape, d, tb, vb, wi, 1, d, pgp, (nint)vb * nr, pdh, tb, 1, outer, MatMul.StripBlock);
                                }

                            }
                        }
                    });
                    double calls = FlopLimit.Calls(flop);
                    double l = Cpu(() => FlopLimit.Spend(flop * calls, 1)) / calls;
                    string key = $"{names[q]} {(outer ? "strips first" : "panels first")}{(ab ? (pf ? " pf" : " nopf") : "")}";
                    if (r >= 0) { (res.TryGetValue(key, out var list) ? list : res[key] = []).Add(l / t); }
                }
            }
        }

        foreach (var (k, v) in res)
        {
            var s = v.Order().ToList();
            Console.WriteLine($"{k,-22} {s[s.Count / 2]:P1} ({s[0]:P1} - {s[^1]:P1})");
        }
    }

    private static double Cpu(Action a)
    {
        var c = Environment.CpuUsage.TotalTime;
        a();
        return (Environment.CpuUsage.TotalTime - c).TotalSeconds;
    }
}
