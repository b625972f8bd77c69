using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Xent.Kernels;

namespace Xent.Benchmarks;

/// <summary>
/// What the FMA units allow: each thread runs 12 independent chains of fused multiply-adds at the widest vector
/// width the kernels use (more chains than FMA latency x ports, so only throughput limits it), on its own OS thread,
/// all threads at once. The number to hold a matrix kernel's GFLOP/s against, measured in the same process. On a
/// virtual machine it also shows whether two vCPUs really are two cores: two threads giving less than twice one
/// thread's rate means they share a physical core's FMA units part of the time.
/// </summary>
internal static class FlopLimit
{
    private const int Chains = 12;

    /// <summary>GFLOP/s (2 per lane per FMA) of <paramref name="threads"/> threads running for about the given time.</summary>
    public static double Measure(int threads, double seconds = 0.3)
    {
        long iterations = 1 << 20;
        Run(1000);
        var probe = Stopwatch.StartNew();
        Run(iterations);
        iterations = Math.Max(1 << 16, (long)(iterations * seconds / Math.Max(1e-6, probe.Elapsed.TotalSeconds)));
        var clock = Stopwatch.StartNew();
        RunOnThreads(threads, iterations);
        return 2.0 * Chains * Lanes * iterations * threads / clock.Elapsed.TotalSeconds / 1e9;
    }

    /// <summary>
    /// Does <paramref name="flop"/> floating-point operations of FMA chains split over <paramref name="threads"/>
    /// threads: the time a kernel doing that much work would take at the FMA limit (a benchmark baseline).
    /// </summary>
    public static void Spend(double flop, int threads) =>
        RunOnThreads(threads, Math.Max(1, (long)(flop / (2.0 * Chains * Lanes * threads))));

    /// <summary>
    /// How many times <paramref name="flop"/> one <see cref="Spend"/> must do to time the FMA limit steadily (at least
    /// <see cref="SteadyFlop"/>): spend <paramref name="flop"/> times this at once and divide its time by it. Each call
    /// starts its threads afresh, a fixed cost that, timed with a small product's flops alone (64 x 256 x 64: 2 MFLOP,
    /// some microseconds), made the "limit" slower than the product and printed shares of it of 1800%.
    /// </summary>
    public static double Calls(double flop) => Math.Max(1, Math.Ceiling(SteadyFlop / flop));

    // About 20 ms of FMA chains on two cores: thread start-up (some tens of microseconds) is then under 0.5% of it.
    private const double SteadyFlop = 4e9;

    private static void RunOnThreads(int threads, long iterations)
    {
        var workers = new Thread[threads];
        var start = new Barrier(threads + 1);
        for (int t = 0; t < threads; t++)
        {
            workers[t] = new Thread(() =>
            {
                start.SignalAndWait();
                Run(iterations);
            });
            workers[t].Start();
        }

        start.SignalAndWait();
        foreach (var w in workers)
        {
            w.Join();
        }
    }

    private static int Lanes => Simd.Width switch
    {
        VectorWidth.V512 => Vector512<float>.Count,
        VectorWidth.V256 => Vector256<float>.Count,
        VectorWidth.V128 => Vector128<float>.Count,
        _ => 1,
    };

    private static float Run(long iterations) => Simd.Width switch
    {
        VectorWidth.V512 => Chain<Vector512Ops, Vector512<float>>(iterations),
        VectorWidth.V256 => Chain<Vector256Ops, Vector256<float>>(iterations),
        VectorWidth.V128 => Chain<Vector128Ops, Vector128<float>>(iterations),
        _ => Chain<ScalarOps, float>(iterations),
    };

    // Twelve accumulators in locals (registers), each its own dependency chain. Compiled optimised from the first call:
    // at tier 0 each MultiplyAdd is a call until on-stack replacement takes over the loop, so a process's first few
    // calls (gemm-limit's round in compare.py, one per process) timed a slower limit than later ones.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Chain<TOps, TV>(long iterations)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        TV a0 = TOps.Create(1), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        TV b = TOps.Create(0.9999999f), c = TOps.Create(1e-7f);
        for (long i = 0; i < iterations; i++)
        {
            a0 = TOps.MultiplyAdd(a0, b, c);
            a1 = TOps.MultiplyAdd(a1, b, c);
            a2 = TOps.MultiplyAdd(a2, b, c);
            a3 = TOps.MultiplyAdd(a3, b, c);
            a4 = TOps.MultiplyAdd(a4, b, c);
            a5 = TOps.MultiplyAdd(a5, b, c);
            a6 = TOps.MultiplyAdd(a6, b, c);
            a7 = TOps.MultiplyAdd(a7, b, c);
            a8 = TOps.MultiplyAdd(a8, b, c);
            a9 = TOps.MultiplyAdd(a9, b, c);
            a10 = TOps.MultiplyAdd(a10, b, c);
            a11 = TOps.MultiplyAdd(a11, b, c);
        }

        TV sum = TOps.Add(TOps.Add(TOps.Add(a0, a1), TOps.Add(a2, a3)), TOps.Add(TOps.Add(a4, a5), TOps.Add(a6, a7)));
        return TOps.Sum(TOps.Add(sum, TOps.Add(TOps.Add(a8, a9), TOps.Add(a10, a11))));
    }
}
