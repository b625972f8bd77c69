using System.Runtime.CompilerServices;
using Xent.Kernels;

namespace Xent.LinearAlgebra;

/// <summary>
/// The micro-kernel of <see cref="MatMul.Gemm"/>: one 6 x (2 vectors) tile of C from a packed A micro-panel (6 rows
/// of op(A), the 6 values of one k contiguous) and a packed B micro-panel (2 vectors of op(B) per k, contiguous).
/// Both operands advance by a constant, so the loop is two vector loads, six broadcasts and twelve FMAs per k with
/// nothing else to compute (12 accumulators cover the FMA latency on every x64 core, and leave room for the loads
/// in the 16 registers of AVX2).
/// </summary>
/// <remarks>
/// Each element of C is one chain: acc = start; acc = fma(a[k], b[k], acc) for k = 0 .. K - 1 in order, where start is
/// 0 (beta = 0, C not read), C or beta * C. A K block after the first starts from the partial sum the previous block
/// left in C, so the chain, and the result's bits, do not depend on the K blocking, the tile, the thread or the
/// width (the scalar path runs the same chain one lane wide).
/// </remarks>
internal static unsafe class PanelKernels
{
    /// <summary>Rows of a tile.</summary>
    public const int Mr = 6;

    /// <summary>
    /// C[6, 2 w] = start + sum_k A[., k] B[k, .] as above: a is [kc, 6] packed, b is [kc, 2 w] packed, c has row
    /// stride ldc. load = false starts from zero without reading C; load = true starts from C, times beta unless
    /// beta is 1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Kernel<TOps, TV>(int kc, float* a, float* b, float* c, nint ldc, bool load, float beta)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        nint w = TOps.Count;
        TV c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        if (load)
        {
            (c00, c01) = Start<TOps, TV>(c, w, beta);
            (c10, c11) = Start<TOps, TV>(c + ldc, w, beta);
            (c20, c21) = Start<TOps, TV>(c + (2 * ldc), w, beta);
            (c30, c31) = Start<TOps, TV>(c + (3 * ldc), w, beta);
            (c40, c41) = Start<TOps, TV>(c + (4 * ldc), w, beta);
            (c50, c51) = Start<TOps, TV>(c + (5 * ldc), w, beta);
        }

        nint bStep = 2 * w;
        for (int p = 0; p < kc; p++)
        {
            var b0 = TOps.Load(ref *b, 0);
            var b1 = TOps.Load(ref *b, w);
            var x = TOps.Create(a[0]);
            c00 = TOps.MultiplyAdd(x, b0, c00);
            c01 = TOps.MultiplyAdd(x, b1, c01);
            x = TOps.Create(a[1]);
            c10 = TOps.MultiplyAdd(x, b0, c10);
            c11 = TOps.MultiplyAdd(x, b1, c11);
            x = TOps.Create(a[2]);
            c20 = TOps.MultiplyAdd(x, b0, c20);
            c21 = TOps.MultiplyAdd(x, b1, c21);
            x = TOps.Create(a[3]);
            c30 = TOps.MultiplyAdd(x, b0, c30);
            c31 = TOps.MultiplyAdd(x, b1, c31);
            x = TOps.Create(a[4]);
            c40 = TOps.MultiplyAdd(x, b0, c40);
            c41 = TOps.MultiplyAdd(x, b1, c41);
            x = TOps.Create(a[5]);
            c50 = TOps.MultiplyAdd(x, b0, c50);
            c51 = TOps.MultiplyAdd(x, b1, c51);
            a += Mr;
            b += bStep;
        }

        Store<TOps, TV>(c00, c01, c, w);
        Store<TOps, TV>(c10, c11, c + ldc, w);
        Store<TOps, TV>(c20, c21, c + (2 * ldc), w);
        Store<TOps, TV>(c30, c31, c + (3 * ldc), w);
        Store<TOps, TV>(c40, c41, c + (4 * ldc), w);
        Store<TOps, TV>(c50, c51, c + (5 * ldc), w);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (TV Lo, TV Hi) Start<TOps, TV>(float* row, nint w, float beta)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        TV lo = TOps.Load(ref *row, 0), hi = TOps.Load(ref *row, w);
        if (beta != 1)
        {
            var vb = TOps.Create(beta);
            (lo, hi) = (TOps.Multiply(lo, vb), TOps.Multiply(hi, vb));
        }

        return (lo, hi);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<TOps, TV>(TV lo, TV hi, float* row, nint w)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        TOps.Store(lo, ref *row, 0);
        TOps.Store(hi, ref *row, w);
    }
}
