using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

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
        var clock = Stopwatch.StartNew();
        foreach (var w in workers)
        {
            w.Join();
        }

        return 2.0 * Chains * Lanes * iterations * threads / clock.Elapsed.TotalSeconds / 1e9;
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
        VectorWidth.V512 => Chain512(iterations),
        VectorWidth.V256 => Chain256(iterations),
        VectorWidth.V128 => Chain128(iterations),
        _ => ChainScalar(iterations),
    };

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Chain512(long iterations)
    {
        Vector512<float> a0 = Vector512<float>.One, a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        var b = Vector512.Create(0.9999999f);
        var c = Vector512.Create(1e-7f);
        for (long i = 0; i < iterations; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, b, c);
            a1 = Vector512.FusedMultiplyAdd(a1, b, c);
            a2 = Vector512.FusedMultiplyAdd(a2, b, c);
            a3 = Vector512.FusedMultiplyAdd(a3, b, c);
            a4 = Vector512.FusedMultiplyAdd(a4, b, c);
            a5 = Vector512.FusedMultiplyAdd(a5, b, c);
            a6 = Vector512.FusedMultiplyAdd(a6, b, c);
            a7 = Vector512.FusedMultiplyAdd(a7, b, c);
            a8 = Vector512.FusedMultiplyAdd(a8, b, c);
            a9 = Vector512.FusedMultiplyAdd(a9, b, c);
            a10 = Vector512.FusedMultiplyAdd(a10, b, c);
            a11 = Vector512.FusedMultiplyAdd(a11, b, c);
        }

        return (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11).ToScalar();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Chain256(long iterations)
    {
        Vector256<float> a0 = Vector256<float>.One, a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        var b = Vector256.Create(0.9999999f);
        var c = Vector256.Create(1e-7f);
        for (long i = 0; i < iterations; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, b, c);
            a1 = Vector256.FusedMultiplyAdd(a1, b, c);
            a2 = Vector256.FusedMultiplyAdd(a2, b, c);
            a3 = Vector256.FusedMultiplyAdd(a3, b, c);
            a4 = Vector256.FusedMultiplyAdd(a4, b, c);
            a5 = Vector256.FusedMultiplyAdd(a5, b, c);
            a6 = Vector256.FusedMultiplyAdd(a6, b, c);
            a7 = Vector256.FusedMultiplyAdd(a7, b, c);
            a8 = Vector256.FusedMultiplyAdd(a8, b, c);
            a9 = Vector256.FusedMultiplyAdd(a9, b, c);
            a10 = Vector256.FusedMultiplyAdd(a10, b, c);
            a11 = Vector256.FusedMultiplyAdd(a11, b, c);
        }

        return (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11).ToScalar();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Chain128(long iterations)
    {
        Vector128<float> a0 = Vector128<float>.One, a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        var b = Vector128.Create(0.9999999f);
        var c = Vector128.Create(1e-7f);
        for (long i = 0; i < iterations; i++)
        {
            a0 = Vector128.FusedMultiplyAdd(a0, b, c);
            a1 = Vector128.FusedMultiplyAdd(a1, b, c);
            a2 = Vector128.FusedMultiplyAdd(a2, b, c);
            a3 = Vector128.FusedMultiplyAdd(a3, b, c);
            a4 = Vector128.FusedMultiplyAdd(a4, b, c);
            a5 = Vector128.FusedMultiplyAdd(a5, b, c);
            a6 = Vector128.FusedMultiplyAdd(a6, b, c);
            a7 = Vector128.FusedMultiplyAdd(a7, b, c);
            a8 = Vector128.FusedMultiplyAdd(a8, b, c);
            a9 = Vector128.FusedMultiplyAdd(a9, b, c);
            a10 = Vector128.FusedMultiplyAdd(a10, b, c);
            a11 = Vector128.FusedMultiplyAdd(a11, b, c);
        }

        return (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11).ToScalar();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float ChainScalar(long iterations)
    {
        float a0 = 1, a1 = 1, a2 = 1, a3 = 1, a4 = 1, a5 = 1, a6 = 1, a7 = 1, a8 = 1, a9 = 1, a10 = 1, a11 = 1;
        const float b = 0.9999999f, c = 1e-7f;
        for (long i = 0; i < iterations; i++)
        {
            a0 = MathF.FusedMultiplyAdd(a0, b, c);
            a1 = MathF.FusedMultiplyAdd(a1, b, c);
            a2 = MathF.FusedMultiplyAdd(a2, b, c);
            a3 = MathF.FusedMultiplyAdd(a3, b, c);
            a4 = MathF.FusedMultiplyAdd(a4, b, c);
            a5 = MathF.FusedMultiplyAdd(a5, b, c);
            a6 = MathF.FusedMultiplyAdd(a6, b, c);
            a7 = MathF.FusedMultiplyAdd(a7, b, c);
            a8 = MathF.FusedMultiplyAdd(a8, b, c);
            a9 = MathF.FusedMultiplyAdd(a9, b, c);
            a10 = MathF.FusedMultiplyAdd(a10, b, c);
            a11 = MathF.FusedMultiplyAdd(a11, b, c);
        }

        return a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
    }
}
