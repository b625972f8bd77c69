using System.Runtime.CompilerServices;
using Xent.Kernels;

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
    /// <summary>
    /// 6 x (2 vectors) tile for any vector width: 12 accumulators, two B vectors, one broadcast per row and k.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Kernel<TOps, TV>(int kc, float* a, nint ars, nint aks, float* b, nint bks, float* c, nint ldc, float alpha, float beta)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        TV c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        float* a0 = a, a1 = a0 + ars, a2 = a1 + ars, a3 = a2 + ars, a4 = a3 + ars, a5 = a4 + ars;
        nint o = 0, w = TOps.Count;
        for (int p = 0; p < kc; p++)
        {
            var b0 = TOps.Load(ref *b, 0);
            var b1 = TOps.Load(ref *b, w);
            var x0 = TOps.Create(a0[o]);
            c00 = TOps.MultiplyAdd(x0, b0, c00);
            c01 = TOps.MultiplyAdd(x0, b1, c01);
            var x1 = TOps.Create(a1[o]);
            c10 = TOps.MultiplyAdd(x1, b0, c10);
            c11 = TOps.MultiplyAdd(x1, b1, c11);
            var x2 = TOps.Create(a2[o]);
            c20 = TOps.MultiplyAdd(x2, b0, c20);
            c21 = TOps.MultiplyAdd(x2, b1, c21);
            var x3 = TOps.Create(a3[o]);
            c30 = TOps.MultiplyAdd(x3, b0, c30);
            c31 = TOps.MultiplyAdd(x3, b1, c31);
            var x4 = TOps.Create(a4[o]);
            c40 = TOps.MultiplyAdd(x4, b0, c40);
            c41 = TOps.MultiplyAdd(x4, b1, c41);
            var x5 = TOps.Create(a5[o]);
            c50 = TOps.MultiplyAdd(x5, b0, c50);
            c51 = TOps.MultiplyAdd(x5, b1, c51);
            o += aks;
            b += bks;
        }

        var va = TOps.Create(alpha);
        Finish<TOps, TV>(c00, c01, c + (0 * ldc), w, va, beta);
        Finish<TOps, TV>(c10, c11, c + (1 * ldc), w, va, beta);
        Finish<TOps, TV>(c20, c21, c + (2 * ldc), w, va, beta);
        Finish<TOps, TV>(c30, c31, c + (3 * ldc), w, va, beta);
        Finish<TOps, TV>(c40, c41, c + (4 * ldc), w, va, beta);
        Finish<TOps, TV>(c50, c51, c + (5 * ldc), w, va, beta);
    }

    // One row of the tile: C = alpha acc (beta = 0: C is not read, so NaN there does not leak) or beta C + alpha acc.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish<TOps, TV>(TV lo, TV hi, float* row, nint w, TV alpha, float beta)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        if (beta == 0)
        {
            TOps.Store(TOps.Multiply(lo, alpha), ref *row, 0);
            TOps.Store(TOps.Multiply(hi, alpha), ref *row, w);
        }
        else
        {
            var vb = TOps.Create(beta);
            TOps.Store(TOps.MultiplyAdd(TOps.Load(ref *row, 0), vb, TOps.Multiply(lo, alpha)), ref *row, 0);
            TOps.Store(TOps.MultiplyAdd(TOps.Load(ref *row, w), vb, TOps.Multiply(hi, alpha)), ref *row, w);
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
