using System.Diagnostics;
using System.Globalization;
using Xent.Kernels;
using Xent.LinearAlgebra;

namespace Xent.Benchmarks;

/// <summary>
/// The Gemm tile kernel alone (<see cref="PanelShape.Kernel"/>, one thread, CPU time) against the FMA limit measured in
/// turn: tiles of 'strips' row strips of A (kc = 256) across one B micro-panel (in L1), A packed (strips x 6 KB, in L2)
/// and read in place (row stride lda, four K offsets in turn), C a small block that stays in L1. What the kernel reaches
/// when its operands are in cache, to hold the Gemm paths' shares against (Zen 5, 512 bits: 96-99% both ways, lda 3072
/// or 3088). Prints the median and best share over the rounds.
/// Run: kernel-limit [strips] [rounds] [lda]
/// </summary>
internal static unsafe class KernelLimit
{
    public static void Run(string[] args)
    {
        int strips = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 40;
        int rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 7;
        var s = PanelShape.For(Simd.Width);
        int nr = s.Nr, kc = 256, mr = PanelKernels.Mr;
        float* a = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)(strips * mr * kc * 4), 64);
        float* b = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)(kc * nr * 4), 64);
        float* c = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)(strips * mr * nr * 4 * 8), 64);
        for (int i = 0; i < strips * mr * kc; i++)
        {
            a[i] = 0.001f * (i % 97);
        }

        for (int i = 0; i < kc * nr; i++)
        {
            b[i] = 0.001f * (i % 89);
        }

        double flop = 2.0 * strips * mr * nr * kc;
        int reps = (int)Math.Max(1, 3e10 / flop);
        int lda = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 3072;
        float* ain = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)(strips * mr * lda * 4), 64);
        for (int i = 0; i < strips * mr * lda; i++)
        {
            ain[i] = 0.001f * (i % 97);
        }

        var shares3 = new List<double>();
        var shares = new List<double>();
        // Round -1 is a warm-up, not counted: the first round compiled the kernels and ran the timing loops at tier 0 until
        // on-stack replacement.
        for (int r = -1; r < rounds; r++)
        {
            double t = Cpu(() =>
            {
                for (int rep = 0; rep < reps; rep++)
                {
                    for (int i = 0; i < strips; i++)
                    {
                        s.Kernel(kc, a + (i * mr * kc), b, c + (i * mr * nr), nr, rep == 0, 0);
                    }
                }
            });
            double t3 = Cpu(() =>
            {
                for (int rep = 0; rep < reps; rep++)
                {
                    for (int i = 0; i < strips; i++)
                    {
                        s.StridedKernel(kc, ain + (i * mr * lda) + (rep % 4 * 256), lda, 1, b, c + (i * mr * nr), nr, rep == 0, 0);
                    }
                }
            });
            double lim = Cpu(() => FlopLimit.Spend(flop * reps, 1));
            if (r >= 0)
            {
                shares.Add(lim / t);
                shares3.Add(lim / t3);
            }
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{Simd.Width} strips {strips} kc {kc}: packed A: median {shares.Order().ElementAt(rounds / 2):P1} max {shares.Max():P1}; in place lda {lda} {shares3.Order().ElementAt(rounds / 2):P1} max {shares3.Max():P1}"));
    }

    private static double Cpu(Action f)
    {
        var p = Process.GetCurrentProcess();
        var t0 = p.TotalProcessorTime;
        f();
        p.Refresh();
        return (p.TotalProcessorTime - t0).TotalSeconds;
    }
}
