using System.Runtime.CompilerServices;
using Xent.Kernels;

namespace Xent.LinearAlgebra;

/// <content>
/// The 6 x (4 vectors) tile of the 512-bit path: four vector loads and six broadcasts per 24 FMAs (against two and six
/// per 12), 24 accumulators of the 32 registers of AVX-512. The same sums in the same order as the 2-vector tile.
/// </content>
internal static unsafe partial class PanelKernels
{
    /// <summary><see cref="Kernel"/> with a tile four vectors wide: b is [kc, 4 w] packed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void KernelWide<TOps, TV>(int kc, float* a, float* b, float* c, nint ldc, bool first, float beta)
        where TOps : struct, IVectorOps<TV>
        where TV : struct =>
        KernelStridedWide<TOps, TV>(kc, a, 1, Mr, b, c, ldc, first, beta);

    /// <summary><see cref="KernelStrided"/> with a tile four vectors wide: b is [kc, 4 w] packed.</summary>
    /// <remarks>
    /// <see cref="KernelStridedWidePart"/> is this kernel with a sum block split in parts; Gemm keeps this copy, without
    /// the parts' arguments and branches, which measured about 2% slower through one body (gemm-limit, 2026-12-07).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void KernelStridedWide<TOps, TV>(int kc, float* a, nint ars, nint aks, float* b, float* c, nint ldc, bool first, float beta)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        nint w = TOps.Count, bStep = 4 * w, o = 0;
        float* a0 = a, a1 = a0 + ars, a2 = a1 + ars, a3 = a2 + ars, a4 = a3 + ars, a5 = a4 + ars;
        for (int q0 = 0; q0 < kc; q0 += SumBlock)
        {
            int q1 = Math.Min(kc, q0 + SumBlock);
            TV c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default, c13 = default;
            TV c20 = default, c21 = default, c22 = default, c23 = default, c30 = default, c31 = default, c32 = default, c33 = default;
            TV c40 = default, c41 = default, c42 = default, c43 = default, c50 = default, c51 = default, c52 = default, c53 = default;
            for (int p = q0; p < q1; p++)
            {
                var b0 = TOps.Load(ref *b, 0);
                var b1 = TOps.Load(ref *b, w);
                var b2 = TOps.Load(ref *b, 2 * w);
                var b3 = TOps.Load(ref *b, 3 * w);
                var x = TOps.Create(a0[o]);
                c00 = TOps.MultiplyAdd(x, b0, c00);
                c01 = TOps.MultiplyAdd(x, b1, c01);
                c02 = TOps.MultiplyAdd(x, b2, c02);
                c03 = TOps.MultiplyAdd(x, b3, c03);
                x = TOps.Create(a1[o]);
                c10 = TOps.MultiplyAdd(x, b0, c10);
                c11 = TOps.MultiplyAdd(x, b1, c11);
                c12 = TOps.MultiplyAdd(x, b2, c12);
                c13 = TOps.MultiplyAdd(x, b3, c13);
                x = TOps.Create(a2[o]);
                c20 = TOps.MultiplyAdd(x, b0, c20);
                c21 = TOps.MultiplyAdd(x, b1, c21);
                c22 = TOps.MultiplyAdd(x, b2, c22);
                c23 = TOps.MultiplyAdd(x, b3, c23);
                x = TOps.Create(a3[o]);
                c30 = TOps.MultiplyAdd(x, b0, c30);
                c31 = TOps.MultiplyAdd(x, b1, c31);
                c32 = TOps.MultiplyAdd(x, b2, c32);
                c33 = TOps.MultiplyAdd(x, b3, c33);
                x = TOps.Create(a4[o]);
                c40 = TOps.MultiplyAdd(x, b0, c40);
                c41 = TOps.MultiplyAdd(x, b1, c41);
                c42 = TOps.MultiplyAdd(x, b2, c42);
                c43 = TOps.MultiplyAdd(x, b3, c43);
                x = TOps.Create(a5[o]);
                c50 = TOps.MultiplyAdd(x, b0, c50);
                c51 = TOps.MultiplyAdd(x, b1, c51);
                c52 = TOps.MultiplyAdd(x, b2, c52);
                c53 = TOps.MultiplyAdd(x, b3, c53);
                o += aks;
                b += bStep;
            }

            bool start = first && q0 == 0;
            bool read = !start || beta != 0;
            float scale = start ? beta : 1;
            Finish<TOps, TV>(c00, c01, c, w, read, scale);
            Finish<TOps, TV>(c02, c03, c + (2 * w), w, read, scale);
            Finish<TOps, TV>(c10, c11, c + ldc, w, read, scale);
            Finish<TOps, TV>(c12, c13, c + ldc + (2 * w), w, read, scale);
            Finish<TOps, TV>(c20, c21, c + (2 * ldc), w, read, scale);
            Finish<TOps, TV>(c22, c23, c + (2 * ldc) + (2 * w), w, read, scale);
            Finish<TOps, TV>(c30, c31, c + (3 * ldc), w, read, scale);
            Finish<TOps, TV>(c32, c33, c + (3 * ldc) + (2 * w), w, read, scale);
            Finish<TOps, TV>(c40, c41, c + (4 * ldc), w, read, scale);
            Finish<TOps, TV>(c42, c43, c + (4 * ldc) + (2 * w), w, read, scale);
            Finish<TOps, TV>(c50, c51, c + (5 * ldc), w, read, scale);
            Finish<TOps, TV>(c52, c53, c + (5 * ldc) + (2 * w), w, read, scale);
        }
    }

    /// <summary>
    /// <see cref="KernelStridedWide"/> over part of one sum block, for K blocks shorter than a sum block (whose B
    /// micro-panel fits L1): <paramref name="resume"/> starts the sums from the 24 vectors at <paramref name="acc"/>
    /// (the part before, in k order), <paramref name="keep"/> stores them there instead of adding them to C. Stored
    /// and reloaded floats are exact: the same chains, the same bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void KernelStridedWidePart<TOps, TV>(int kc, float* a, nint ars, nint aks, float* b, float* c, nint ldc, bool first, float beta,
        float* acc, bool resume, bool keep)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        nint w = TOps.Count, bStep = 4 * w, o = 0;
        float* a0 = a, a1 = a0 + ars, a2 = a1 + ars, a3 = a2 + ars, a4 = a3 + ars, a5 = a4 + ars;
        for (int q0 = 0; q0 < kc; q0 += SumBlock)
        {
            int q1 = Math.Min(kc, q0 + SumBlock);
            TV c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default, c13 = default;
            TV c20 = default, c21 = default, c22 = default, c23 = default, c30 = default, c31 = default, c32 = default, c33 = default;
            TV c40 = default, c41 = default, c42 = default, c43 = default, c50 = default, c51 = default, c52 = default, c53 = default;
            if (resume)
            {
                Load4<TOps, TV>(acc, w, out c00, out c01, out c02, out c03);
                Load4<TOps, TV>(acc + (4 * w), w, out c10, out c11, out c12, out c13);
                Load4<TOps, TV>(acc + (8 * w), w, out c20, out c21, out c22, out c23);
                Load4<TOps, TV>(acc + (12 * w), w, out c30, out c31, out c32, out c33);
                Load4<TOps, TV>(acc + (16 * w), w, out c40, out c41, out c42, out c43);
                Load4<TOps, TV>(acc + (20 * w), w, out c50, out c51, out c52, out c53);
            }

            for (int p = q0; p < q1; p++)
            {
                var b0 = TOps.Load(ref *b, 0);
                var b1 = TOps.Load(ref *b, w);
                var b2 = TOps.Load(ref *b, 2 * w);
                var b3 = TOps.Load(ref *b, 3 * w);
                var x = TOps.Create(a0[o]);
                c00 = TOps.MultiplyAdd(x, b0, c00);
                c01 = TOps.MultiplyAdd(x, b1, c01);
                c02 = TOps.MultiplyAdd(x, b2, c02);
                c03 = TOps.MultiplyAdd(x, b3, c03);
                x = TOps.Create(a1[o]);
                c10 = TOps.MultiplyAdd(x, b0, c10);
                c11 = TOps.MultiplyAdd(x, b1, c11);
                c12 = TOps.MultiplyAdd(x, b2, c12);
                c13 = TOps.MultiplyAdd(x, b3, c13);
                x = TOps.Create(a2[o]);
                c20 = TOps.MultiplyAdd(x, b0, c20);
                c21 = TOps.MultiplyAdd(x, b1, c21);
                c22 = TOps.MultiplyAdd(x, b2, c22);
                c23 = TOps.MultiplyAdd(x, b3, c23);
                x = TOps.Create(a3[o]);
                c30 = TOps.MultiplyAdd(x, b0, c30);
                c31 = TOps.MultiplyAdd(x, b1, c31);
                c32 = TOps.MultiplyAdd(x, b2, c32);
                c33 = TOps.MultiplyAdd(x, b3, c33);
                x = TOps.Create(a4[o]);
                c40 = TOps.MultiplyAdd(x, b0, c40);
                c41 = TOps.MultiplyAdd(x, b1, c41);
                c42 = TOps.MultiplyAdd(x, b2, c42);
                c43 = TOps.MultiplyAdd(x, b3, c43);
                x = TOps.Create(a5[o]);
                c50 = TOps.MultiplyAdd(x, b0, c50);
                c51 = TOps.MultiplyAdd(x, b1, c51);
                c52 = TOps.MultiplyAdd(x, b2, c52);
                c53 = TOps.MultiplyAdd(x, b3, c53);
                o += aks;
                b += bStep;
            }

            if (keep)
            {
                Store4<TOps, TV>(acc, w, c00, c01, c02, c03);
                Store4<TOps, TV>(acc + (4 * w), w, c10, c11, c12, c13);
                Store4<TOps, TV>(acc + (8 * w), w, c20, c21, c22, c23);
                Store4<TOps, TV>(acc + (12 * w), w, c30, c31, c32, c33);
                Store4<TOps, TV>(acc + (16 * w), w, c40, c41, c42, c43);
                Store4<TOps, TV>(acc + (20 * w), w, c50, c51, c52, c53);
                return;
            }

            bool start = first && q0 == 0;
            bool read = !start || beta != 0;
            float scale = start ? beta : 1;
            Finish<TOps, TV>(c00, c01, c, w, read, scale);
            Finish<TOps, TV>(c02, c03, c + (2 * w), w, read, scale);
            Finish<TOps, TV>(c10, c11, c + ldc, w, read, scale);
            Finish<TOps, TV>(c12, c13, c + ldc + (2 * w), w, read, scale);
            Finish<TOps, TV>(c20, c21, c + (2 * ldc), w, read, scale);
            Finish<TOps, TV>(c22, c23, c + (2 * ldc) + (2 * w), w, read, scale);
            Finish<TOps, TV>(c30, c31, c + (3 * ldc), w, read, scale);
            Finish<TOps, TV>(c32, c33, c + (3 * ldc) + (2 * w), w, read, scale);
            Finish<TOps, TV>(c40, c41, c + (4 * ldc), w, read, scale);
            Finish<TOps, TV>(c42, c43, c + (4 * ldc) + (2 * w), w, read, scale);
            Finish<TOps, TV>(c50, c51, c + (5 * ldc), w, read, scale);
            Finish<TOps, TV>(c52, c53, c + (5 * ldc) + (2 * w), w, read, scale);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Load4<TOps, TV>(float* x, nint w, out TV v0, out TV v1, out TV v2, out TV v3)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        v0 = TOps.Load(ref *x, 0);
        v1 = TOps.Load(ref *x, w);
        v2 = TOps.Load(ref *x, 2 * w);
        v3 = TOps.Load(ref *x, 3 * w);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store4<TOps, TV>(float* x, nint w, TV v0, TV v1, TV v2, TV v3)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        TOps.Store(v0, ref *x, 0);
        TOps.Store(v1, ref *x, w);
        TOps.Store(v2, ref *x, 2 * w);
        TOps.Store(v3, ref *x, 3 * w);
    }
}
