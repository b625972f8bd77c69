using System.Runtime.CompilerServices;
using Xent.Kernels;

namespace Xent.LinearAlgebra;

/// <summary>
/// The micro-kernel of <see cref="MatMul.Gemm"/> and the fused head: one 6 x (2 vectors) tile of C from a packed A
/// micro-panel (6 rows of op(A), the 6 values of one k contiguous) and a packed B micro-panel (2 vectors of op(B) per
/// k, contiguous); <c>.Wide.cs</c> holds the 4-vector tile of Gemm at 512 bits.
/// Both operands advance by a constant, so the loop is two vector loads, six broadcasts and twelve FMAs per k with
/// nothing else to compute (12 accumulators cover the FMA latency on every x64 core, and leave room for the loads
/// in the 16 registers of AVX2).
/// </summary>
/// <remarks>
/// Each element of C is summed in blocks of <see cref="SumBlock"/> k from k = 0: each block's sum is one chain
/// s = fma(a[k], b[k], s) from 0 in k order, and C = s0 (beta = 0, C not read) or fma(C, beta, s0), then C = C + s1,
/// C + s2, ... in order. The cache blocking, the tile, the thread and the width (the scalar path runs the same
/// chain one lane wide) never change that, so neither do the result's bits.
/// </remarks>
internal static unsafe partial class PanelKernels
{
    /// <summary>Rows of a tile.</summary>
    public const int Mr = 6;

    /// <summary>
    /// K steps summed from zero before the sum is added to C: a two-level sum, whose rounding error grows with
    /// K / 256 + 256 terms instead of K (what gradients summed over many tokens need).
    /// </summary>
    public const int SumBlock = 256;

    /// <summary>
    /// C[6, 2 w] (+)= A B over kc steps as above: a is [kc, 6] packed, b is [kc, 2 w] packed, c has row stride ldc.
    /// Every <see cref="SumBlock"/> steps the tile's sum is added to C; when first, the first of them starts C instead:
    /// C = sum (beta = 0: C is not read) or fma(C, beta, sum). kc is a multiple of SumBlock except at K's end.
    /// </summary>
    /// <remarks>A packed panel is the strided case with A(i, p) = a[p * 6 + i]: one kernel serves both.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Kernel<TOps, TV>(int kc, float* a, float* b, float* c, nint ldc, bool first, float beta)
        where TOps : struct, IVectorOps<TV>
        where TV : struct =>
        KernelStrided<TOps, TV>(kc, a, 1, Mr, b, c, ldc, first, beta);

    /// <summary>
    /// The same tile and sums as <see cref="Kernel"/> with A read in place: A(i, p) = a[i * ars + p * aks] (the fused
    /// kernels' W rows and G rows, which packing would copy for only a few B micro-panels: 128 tokens are 4 of them at
    /// 512 bits). Six row pointers and one k offset: a packed panel passes ars = 1 and aks = 6.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void KernelStrided<TOps, TV>(int kc, float* a, nint ars, nint aks, float* b, float* c, nint ldc, bool first, float beta)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        nint w = TOps.Count, bStep = 2 * w, o = 0;
        float* a0 = a, a1 = a0 + ars, a2 = a1 + ars, a3 = a2 + ars, a4 = a3 + ars, a5 = a4 + ars;
        for (int q0 = 0; q0 < kc; q0 += SumBlock)
        {
            int q1 = Math.Min(kc, q0 + SumBlock);
            TV c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
            for (int p = q0; p < q1; p++)
            {
                var b0 = TOps.Load(ref *b, 0);
                var b1 = TOps.Load(ref *b, w);
                var x = TOps.Create(a0[o]);
                c00 = TOps.MultiplyAdd(x, b0, c00);
                c01 = TOps.MultiplyAdd(x, b1, c01);
                x = TOps.Create(a1[o]);
                c10 = TOps.MultiplyAdd(x, b0, c10);
                c11 = TOps.MultiplyAdd(x, b1, c11);
                x = TOps.Create(a2[o]);
                c20 = TOps.MultiplyAdd(x, b0, c20);
                c21 = TOps.MultiplyAdd(x, b1, c21);
                x = TOps.Create(a3[o]);
                c30 = TOps.MultiplyAdd(x, b0, c30);
                c31 = TOps.MultiplyAdd(x, b1, c31);
                x = TOps.Create(a4[o]);
                c40 = TOps.MultiplyAdd(x, b0, c40);
                c41 = TOps.MultiplyAdd(x, b1, c41);
                x = TOps.Create(a5[o]);
                c50 = TOps.MultiplyAdd(x, b0, c50);
                c51 = TOps.MultiplyAdd(x, b1, c51);
                o += aks;
                b += bStep;
            }

            bool start = first && q0 == 0;
            bool read = !start || beta != 0;
            float scale = start ? beta : 1;
            Finish<TOps, TV>(c00, c01, c, w, read, scale);
            Finish<TOps, TV>(c10, c11, c + ldc, w, read, scale);
            Finish<TOps, TV>(c20, c21, c + (2 * ldc), w, read, scale);
            Finish<TOps, TV>(c30, c31, c + (3 * ldc), w, read, scale);
            Finish<TOps, TV>(c40, c41, c + (4 * ldc), w, read, scale);
            Finish<TOps, TV>(c50, c51, c + (5 * ldc), w, read, scale);
        }
    }

    // One row of the tile: C = sum, or fma(C, scale, sum) (scale 1 when adding a later block's sum).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish<TOps, TV>(TV lo, TV hi, float* row, nint w, bool read, float scale)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        if (read)
        {
            var vs = TOps.Create(scale);
            lo = TOps.MultiplyAdd(TOps.Load(ref *row, 0), vs, lo);
            hi = TOps.MultiplyAdd(TOps.Load(ref *row, w), vs, hi);
        }

        TOps.Store(lo, ref *row, 0);
        TOps.Store(hi, ref *row, w);
    }
}
