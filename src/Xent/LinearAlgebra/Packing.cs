using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Xent.LinearAlgebra;

/// <summary>
/// Copies blocks of B into the micro-panels <see cref="PanelKernels"/> streams through, zero-padding the last one
/// so that every tile is a full tile (padding only ever produces discarded columns of C). A is packed by
/// <see cref="PanelPacking.PackA"/>.
/// </summary>
internal static unsafe class Packing
{
    // Whether PackRows copies a lone 2-vector 512-bit micro-panel with 512-bit loads; cleared only by tests, which
    // check both copies. Only the fused head's narrow 512-bit tile (PanelShape.For, wide: false) packs such a panel:
    // its hidden rows at D = 32, its gradient rows for a token block of at most 32 tokens. MatMul.Gemm never does, at
    // any width (4-vector panels at 512 bits, 2-vector ones of 256 or 128 bits below), so gemm-ab cannot time it and
    // refuses XENT_AB=fastrows. A 4-vector copy for Gemm measured 0.98-1.02x the general loop (Zen 5, 2026-12-07):
    // packing is 2-3% of those products.
    internal static bool FastRows { get; set; } = true;

    /// <summary>
    /// Packs op(B)[p0 .. p0 + kc, j0 .. j0 + cols] into Nr-column strips: strip s holds element (p, j) at
    /// s * kc * nr + p * nr + j, times <paramref name="alpha"/> (1: a copy; <see cref="MatMul"/>'s swapped products
    /// pack op(A) here, scaled as <see cref="PanelPacking.PackA"/> scales it).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackB(bool transposeB, float* b, nint ldb, int p0, int kc, int j0, int cols, int nr, float* dst, float alpha = 1)
    {
        if (!transposeB)
        {
            PackRows(b, ldb, p0, kc, j0, cols, nr, dst);
            if (alpha != 1)
            {
                var d = new Span<float>(dst, (int)((long)MatMul.RoundUp(cols, nr) * kc));
                for (int i = 0; i < d.Length; i++)
                {
                    d[i] *= alpha;
                }
            }

            return;
        }

        for (int s = 0; s < cols; s += nr)
        {
            int w = Math.Min(nr, cols - s);
            float* d = dst + ((nint)s * kc);

            // Stored [N, K]: each column of op(B) is a contiguous row; 8 x 8 blocks transposed in registers.
            int j8 = 0, p8 = 0;
            if (Transpose8.IsSupported)
            {
                j8 = w / 8 * 8;
                p8 = kc / 8 * 8;
                for (int j = 0; j < j8; j += 8)
                {
                    float* src = b + ((j0 + s + j) * ldb) + p0;
                    for (int p = 0; p < p8; p += 8)
                    {
                        Transpose8.Block(src + p, ldb, d + (p * nr) + j, nr, 8, alpha);
                    }
                }
            }

            for (int j = 0; j < w; j++)
            {
                float* src = b + ((j0 + s + j) * ldb) + p0;
                for (int p = j < j8 ? p8 : 0; p < kc; p++)
                {
                    d[(p * nr) + j] = alpha * src[p];
                }
            }

            for (int j = w; j < nr; j++)
            {
                for (int p = 0; p < kc; p++)
                {
                    d[(p * nr) + j] = 0;
                }
            }
        }
    }

    // Stored [K, N]: row by row (a strip at a time would touch a new page at every k), each row's Nr-wide pieces
    // copied to their strips.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackRows(float* b, nint ldb, int p0, int kc, int j0, int cols, int nr, float* dst)
    {
        if (cols == nr && nr == 2 * Vector512<float>.Count && Vector512.IsHardwareAccelerated && FastRows)
        {
            // One whole 2-vector 512-bit micro-panel: two 64-byte copies a row, pointers stepped.
            float* src = b + (p0 * ldb) + j0, end = dst + ((nint)kc * nr);
            for (float* d = dst; d < end; d += nr, src += ldb)
            {
                Vector512.Load(src).Store(d);
                Vector512.Load(src + Vector512<float>.Count).Store(d + Vector512<float>.Count);
            }

            return;
        }

        for (int p = 0; p < kc; p++)
        {
            float* src = b + ((p0 + p) * ldb) + j0;
            for (int s = 0; s < cols; s += nr)
            {
                int w = Math.Min(nr, cols - s);
                float* dp = dst + ((nint)s * kc) + (p * nr);
                if (w == nr && nr % 8 == 0 && Vector256.IsHardwareAccelerated)
                {
                    // A whole strip row (32 floats at 512 bits): inline vector copies, not a Memmove call per row.
                    for (int j = 0; j < nr; j += 8)
                    {
                        Vector256.Load(src + s + j).Store(dp + j);
                    }

                    continue;
                }

                new ReadOnlySpan<float>(src + s, w).CopyTo(new Span<float>(dp, w));
                if (w < nr)
                {
                    new Span<float>(dp + w, nr - w).Clear();
                }
            }
        }
    }
}
