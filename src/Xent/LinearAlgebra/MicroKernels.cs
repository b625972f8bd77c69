using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Xent.LinearAlgebra;

/// <summary>
/// Register-blocked micro-kernels: C tile = alpha * A strip * B strip + beta * C tile, accumulating over k in
/// order in registers. A is read through a row stride and a k stride (so packed strips, row-major rows and
/// transposed storage all work); B is Nr contiguous floats per k step, k steps bks apart.
/// Every path accumulates each element as fma(a, b, acc) in increasing k, so one element's value depends only on
/// the K blocking, never on which tile or thread computed it.
/// </summary>
internal static unsafe class MicroKernels
{
    /// <summary>6 x 32 tile with Vector512 FMA: 12 accumulators, two B vectors, one broadcast.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Kernel512(int kc, float* a, nint ars, nint aks, float* b, nint bks, float* c, nint ldc, float alpha, float beta)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        float* a0 = a, a1 = a0 + ars, a2 = a1 + ars, a3 = a2 + ars, a4 = a3 + ars, a5 = a4 + ars;
        nint o = 0;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var x0 = Vector512.Create(a0[o]);
            c00 = Vector512.FusedMultiplyAdd(x0, b0, c00);
            c01 = Vector512.FusedMultiplyAdd(x0, b1, c01);
            var x1 = Vector512.Create(a1[o]);
            c10 = Vector512.FusedMultiplyAdd(x1, b0, c10);
            c11 = Vector512.FusedMultiplyAdd(x1, b1, c11);
            var x2 = Vector512.Create(a2[o]);
            c20 = Vector512.FusedMultiplyAdd(x2, b0, c20);
            c21 = Vector512.FusedMultiplyAdd(x2, b1, c21);
            var x3 = Vector512.Create(a3[o]);
            c30 = Vector512.FusedMultiplyAdd(x3, b0, c30);
            c31 = Vector512.FusedMultiplyAdd(x3, b1, c31);
            var x4 = Vector512.Create(a4[o]);
            c40 = Vector512.FusedMultiplyAdd(x4, b0, c40);
            c41 = Vector512.FusedMultiplyAdd(x4, b1, c41);
            var x5 = Vector512.Create(a5[o]);
            c50 = Vector512.FusedMultiplyAdd(x5, b0, c50);
            c51 = Vector512.FusedMultiplyAdd(x5, b1, c51);
            o += aks;
            b += bks;
        }

        var va = Vector512.Create(alpha);
        if (beta == 0)
        {
            (c00 * va).Store(c + (0 * ldc));
            (c01 * va).Store(c + (0 * ldc) + 16);
            (c10 * va).Store(c + (1 * ldc));
            (c11 * va).Store(c + (1 * ldc) + 16);
            (c20 * va).Store(c + (2 * ldc));
            (c21 * va).Store(c + (2 * ldc) + 16);
            (c30 * va).Store(c + (3 * ldc));
            (c31 * va).Store(c + (3 * ldc) + 16);
            (c40 * va).Store(c + (4 * ldc));
            (c41 * va).Store(c + (4 * ldc) + 16);
            (c50 * va).Store(c + (5 * ldc));
            (c51 * va).Store(c + (5 * ldc) + 16);
        }
        else
        {
            var vb = Vector512.Create(beta);
            Vector512.FusedMultiplyAdd(Vector512.Load(c + (0 * ldc)), vb, c00 * va).Store(c + (0 * ldc));
            Vector512.FusedMultiplyAdd(Vector512.Load(c + (0 * ldc) + 16), vb, c01 * va).Store(c + (0 * ldc) + 16);
            Vector512.FusedMultiplyAdd(Vector512.Load(c + (1 * ldc)), vb, c10 * va).Store(c + (1 * ldc));
            Vector512.FusedMultiplyAdd(Vector512.Load(c + (1 * ldc) + 16), vb, c11 * va).Store(c + (1 * ldc) + 16);
            Vector512.FusedMultiplyAdd(Vector512.Load(c + (2 * ldc)), vb, c20 * va).Store(c + (2 * ldc));
            Vector512.FusedMultiplyAdd(Vector512.Load(c + (2 * ldc) + 16), vb, c21 * va).Store(c + (2 * ldc) + 16);
            Vector512.FusedMultiplyAdd(Vector512.Load(c + (3 * ldc)), vb, c30 * va).Store(c + (3 * ldc));
            Vector512.FusedMultiplyAdd(Vector512.Load(c + (3 * ldc) + 16), vb, c31 * va).Store(c + (3 * ldc) + 16);
            Vector512.FusedMultiplyAdd(Vector512.Load(c + (4 * ldc)), vb, c40 * va).Store(c + (4 * ldc));
            Vector512.FusedMultiplyAdd(Vector512.Load(c + (4 * ldc) + 16), vb, c41 * va).Store(c + (4 * ldc) + 16);
            Vector512.FusedMultiplyAdd(Vector512.Load(c + (5 * ldc)), vb, c50 * va).Store(c + (5 * ldc));
            Vector512.FusedMultiplyAdd(Vector512.Load(c + (5 * ldc) + 16), vb, c51 * va).Store(c + (5 * ldc) + 16);
        }
    }

    /// <summary>6 x 16 tile with Vector256 FMA: 12 accumulators, two B vectors, one broadcast.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Kernel256(int kc, float* a, nint ars, nint aks, float* b, nint bks, float* c, nint ldc, float alpha, float beta)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        float* a0 = a, a1 = a0 + ars, a2 = a1 + ars, a3 = a2 + ars, a4 = a3 + ars, a5 = a4 + ars;
        nint o = 0;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            var x0 = Vector256.Create(a0[o]);
            c00 = Vector256.FusedMultiplyAdd(x0, b0, c00);
            c01 = Vector256.FusedMultiplyAdd(x0, b1, c01);
            var x1 = Vector256.Create(a1[o]);
            c10 = Vector256.FusedMultiplyAdd(x1, b0, c10);
            c11 = Vector256.FusedMultiplyAdd(x1, b1, c11);
            var x2 = Vector256.Create(a2[o]);
            c20 = Vector256.FusedMultiplyAdd(x2, b0, c20);
            c21 = Vector256.FusedMultiplyAdd(x2, b1, c21);
            var x3 = Vector256.Create(a3[o]);
            c30 = Vector256.FusedMultiplyAdd(x3, b0, c30);
            c31 = Vector256.FusedMultiplyAdd(x3, b1, c31);
            var x4 = Vector256.Create(a4[o]);
            c40 = Vector256.FusedMultiplyAdd(x4, b0, c40);
            c41 = Vector256.FusedMultiplyAdd(x4, b1, c41);
            var x5 = Vector256.Create(a5[o]);
            c50 = Vector256.FusedMultiplyAdd(x5, b0, c50);
            c51 = Vector256.FusedMultiplyAdd(x5, b1, c51);
            o += aks;
            b += bks;
        }

        var va = Vector256.Create(alpha);
        if (beta == 0)
        {
            (c00 * va).Store(c + (0 * ldc));
            (c01 * va).Store(c + (0 * ldc) + 8);
            (c10 * va).Store(c + (1 * ldc));
            (c11 * va).Store(c + (1 * ldc) + 8);
            (c20 * va).Store(c + (2 * ldc));
            (c21 * va).Store(c + (2 * ldc) + 8);
            (c30 * va).Store(c + (3 * ldc));
            (c31 * va).Store(c + (3 * ldc) + 8);
            (c40 * va).Store(c + (4 * ldc));
            (c41 * va).Store(c + (4 * ldc) + 8);
            (c50 * va).Store(c + (5 * ldc));
            (c51 * va).Store(c + (5 * ldc) + 8);
        }
        else
        {
            var vb = Vector256.Create(beta);
            Vector256.FusedMultiplyAdd(Vector256.Load(c + (0 * ldc)), vb, c00 * va).Store(c + (0 * ldc));
            Vector256.FusedMultiplyAdd(Vector256.Load(c + (0 * ldc) + 8), vb, c01 * va).Store(c + (0 * ldc) + 8);
            Vector256.FusedMultiplyAdd(Vector256.Load(c + (1 * ldc)), vb, c10 * va).Store(c + (1 * ldc));
            Vector256.FusedMultiplyAdd(Vector256.Load(c + (1 * ldc) + 8), vb, c11 * va).Store(c + (1 * ldc) + 8);
            Vector256.FusedMultiplyAdd(Vector256.Load(c + (2 * ldc)), vb, c20 * va).Store(c + (2 * ldc));
            Vector256.FusedMultiplyAdd(Vector256.Load(c + (2 * ldc) + 8), vb, c21 * va).Store(c + (2 * ldc) + 8);
            Vector256.FusedMultiplyAdd(Vector256.Load(c + (3 * ldc)), vb, c30 * va).Store(c + (3 * ldc));
            Vector256.FusedMultiplyAdd(Vector256.Load(c + (3 * ldc) + 8), vb, c31 * va).Store(c + (3 * ldc) + 8);
            Vector256.FusedMultiplyAdd(Vector256.Load(c + (4 * ldc)), vb, c40 * va).Store(c + (4 * ldc));
            Vector256.FusedMultiplyAdd(Vector256.Load(c + (4 * ldc) + 8), vb, c41 * va).Store(c + (4 * ldc) + 8);
            Vector256.FusedMultiplyAdd(Vector256.Load(c + (5 * ldc)), vb, c50 * va).Store(c + (5 * ldc));
            Vector256.FusedMultiplyAdd(Vector256.Load(c + (5 * ldc) + 8), vb, c51 * va).Store(c + (5 * ldc) + 8);
        }
    }

    /// <summary>6 x 8 tile with Vector128 FMA: 12 accumulators, two B vectors, one broadcast.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Kernel128(int kc, float* a, nint ars, nint aks, float* b, nint bks, float* c, nint ldc, float alpha, float beta)
    {
        Vector128<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        float* a0 = a, a1 = a0 + ars, a2 = a1 + ars, a3 = a2 + ars, a4 = a3 + ars, a5 = a4 + ars;
        nint o = 0;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector128.Load(b);
            var b1 = Vector128.Load(b + 4);
            var x0 = Vector128.Create(a0[o]);
            c00 = Vector128.FusedMultiplyAdd(x0, b0, c00);
            c01 = Vector128.FusedMultiplyAdd(x0, b1, c01);
            var x1 = Vector128.Create(a1[o]);
            c10 = Vector128.FusedMultiplyAdd(x1, b0, c10);
            c11 = Vector128.FusedMultiplyAdd(x1, b1, c11);
            var x2 = Vector128.Create(a2[o]);
            c20 = Vector128.FusedMultiplyAdd(x2, b0, c20);
            c21 = Vector128.FusedMultiplyAdd(x2, b1, c21);
            var x3 = Vector128.Create(a3[o]);
            c30 = Vector128.FusedMultiplyAdd(x3, b0, c30);
            c31 = Vector128.FusedMultiplyAdd(x3, b1, c31);
            var x4 = Vector128.Create(a4[o]);
            c40 = Vector128.FusedMultiplyAdd(x4, b0, c40);
            c41 = Vector128.FusedMultiplyAdd(x4, b1, c41);
            var x5 = Vector128.Create(a5[o]);
            c50 = Vector128.FusedMultiplyAdd(x5, b0, c50);
            c51 = Vector128.FusedMultiplyAdd(x5, b1, c51);
            o += aks;
            b += bks;
        }

        var va = Vector128.Create(alpha);
        if (beta == 0)
        {
            (c00 * va).Store(c + (0 * ldc));
            (c01 * va).Store(c + (0 * ldc) + 4);
            (c10 * va).Store(c + (1 * ldc));
            (c11 * va).Store(c + (1 * ldc) + 4);
            (c20 * va).Store(c + (2 * ldc));
            (c21 * va).Store(c + (2 * ldc) + 4);
            (c30 * va).Store(c + (3 * ldc));
            (c31 * va).Store(c + (3 * ldc) + 4);
            (c40 * va).Store(c + (4 * ldc));
            (c41 * va).Store(c + (4 * ldc) + 4);
            (c50 * va).Store(c + (5 * ldc));
            (c51 * va).Store(c + (5 * ldc) + 4);
        }
        else
        {
            var vb = Vector128.Create(beta);
            Vector128.FusedMultiplyAdd(Vector128.Load(c + (0 * ldc)), vb, c00 * va).Store(c + (0 * ldc));
            Vector128.FusedMultiplyAdd(Vector128.Load(c + (0 * ldc) + 4), vb, c01 * va).Store(c + (0 * ldc) + 4);
            Vector128.FusedMultiplyAdd(Vector128.Load(c + (1 * ldc)), vb, c10 * va).Store(c + (1 * ldc));
            Vector128.FusedMultiplyAdd(Vector128.Load(c + (1 * ldc) + 4), vb, c11 * va).Store(c + (1 * ldc) + 4);
            Vector128.FusedMultiplyAdd(Vector128.Load(c + (2 * ldc)), vb, c20 * va).Store(c + (2 * ldc));
            Vector128.FusedMultiplyAdd(Vector128.Load(c + (2 * ldc) + 4), vb, c21 * va).Store(c + (2 * ldc) + 4);
            Vector128.FusedMultiplyAdd(Vector128.Load(c + (3 * ldc)), vb, c30 * va).Store(c + (3 * ldc));
            Vector128.FusedMultiplyAdd(Vector128.Load(c + (3 * ldc) + 4), vb, c31 * va).Store(c + (3 * ldc) + 4);
            Vector128.FusedMultiplyAdd(Vector128.Load(c + (4 * ldc)), vb, c40 * va).Store(c + (4 * ldc));
            Vector128.FusedMultiplyAdd(Vector128.Load(c + (4 * ldc) + 4), vb, c41 * va).Store(c + (4 * ldc) + 4);
            Vector128.FusedMultiplyAdd(Vector128.Load(c + (5 * ldc)), vb, c50 * va).Store(c + (5 * ldc));
            Vector128.FusedMultiplyAdd(Vector128.Load(c + (5 * ldc) + 4), vb, c51 * va).Store(c + (5 * ldc) + 4);
        }
    }

    /// <summary>4 x 4 tile in scalar FMA, the same k order as the vector kernels.</summary>
    public static void KernelScalar(int kc, float* a, nint ars, nint aks, float* b, nint bks, float* c, nint ldc, float alpha, float beta)
    {
        float* acc = stackalloc float[16];
        new Span<float>(acc, 16).Clear();
        nint o = 0;
        for (int p = 0; p < kc; p++)
        {
            for (int i = 0; i < 4; i++)
            {
                float x = a[(i * ars) + o];
                float* r = acc + (i * 4);
                r[0] = MathF.FusedMultiplyAdd(x, b[0], r[0]);
                r[1] = MathF.FusedMultiplyAdd(x, b[1], r[1]);
                r[2] = MathF.FusedMultiplyAdd(x, b[2], r[2]);
                r[3] = MathF.FusedMultiplyAdd(x, b[3], r[3]);
            }

            o += aks;
            b += bks;
        }

        for (int i = 0; i < 4; i++)
        {
            for (int j = 0; j < 4; j++)
            {
                float r = alpha * acc[(i * 4) + j];
                float* ci = c + (i * ldc) + j;
                *ci = beta == 0 ? r : MathF.FusedMultiplyAdd(*ci, beta, r);
            }
        }
    }
}
