using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Xent.LinearAlgebra;

/// <summary>
/// Packs a block of op(A) into the micro-panels <see cref="PanelKernels"/> reads: strip s holds rows
/// 6 s .. 6 s + 5, element (i, p) at s * 6 * kc + p * 6 + i, scaled by alpha (so the kernel's chain is over
/// alpha a b), rows past the block zero. B is packed by <see cref="Packing.PackB"/>.
/// </summary>
internal static unsafe class PanelPacking
{
    private const int Mr = PanelKernels.Mr;

    /// <summary>Packs alpha op(A)[i0 .. i0 + rows, p0 .. p0 + kc]; A is [M, K] with row stride lda, or [K, M] when transposeA.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackA(bool transposeA, float* a, nint lda, int i0, int rows, int p0, int kc, float alpha, float* dst)
    {
        if (transposeA)
        {
            PackATransposed(a, lda, i0, rows, p0, kc, alpha, dst);
            return;
        }

        for (int s = 0; s < rows; s += Mr)
        {
            int h = Math.Min(Mr, rows - s);
            float* d = dst + ((nint)s * kc);
            if (h == Mr)
            {
                // Stored [M, K]: six row streams, written k by k so that the stores are contiguous. 8 k at a time are
                // transposed in registers (two zero rows added) and each k's 8 values stored where its 6 belong: the
                // 2 extra land on the next k's place, written next, so the block stops 8 short of the strip's end.
                float* r0 = a + ((i0 + s) * lda) + p0, r1 = r0 + lda, r2 = r1 + lda, r3 = r2 + lda, r4 = r3 + lda, r5 = r4 + lda;
                int p8 = 0;
                if (Transpose8.IsSupported)
                {
                    for (; p8 + 8 < kc; p8 += 8)
                    {
                        Transpose8.Block(r0 + p8, lda, d + (p8 * Mr), Mr, Mr, alpha);
                    }
                }

                for (int p = p8; p < kc; p++)
                {
                    float* dp = d + (p * Mr);
                    dp[0] = alpha * r0[p];
                    dp[1] = alpha * r1[p];
                    dp[2] = alpha * r2[p];
                    dp[3] = alpha * r3[p];
                    dp[4] = alpha * r4[p];
                    dp[5] = alpha * r5[p];
                }
            }
            else
            {
                new Span<float>(d, Mr * kc).Clear();
                for (int i = 0; i < h; i++)
                {
                    float* r = a + ((i0 + s + i) * lda) + p0;
                    for (int p = 0; p < kc; p++)
                    {
                        d[(p * Mr) + i] = alpha * r[p];
                    }
                }
            }
        }
    }

    // Stored [K, M]: one k's values of every strip lie in one row. The block is read 16 rows (k) at a time and each strip
    // is written for those 16 k before the next (384 contiguous bytes): k by k across all strips, the strips' lines (a
    // multiple of 4 KB apart at kc = 1024 or 512) fell into one L1 set and were evicted before they were full.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackATransposed(float* a, nint lda, int i0, int rows, int p0, int kc, float alpha, float* dst)
    {
        const int kStep = 16;
        int full = rows / Mr * Mr;
        for (int q0 = 0; q0 < kc; q0 += kStep)
        {
            int q1 = Math.Min(kc, q0 + kStep);
            for (int s = 0; s < full; s += Mr)
            {
                float* ds = dst + ((nint)s * kc);
                int p = q0;
                if (s + 8 <= rows && Vector256.IsHardwareAccelerated)
                {
                    // 8 values copied where 6 belong: the 2 extra land on the next k's place of the strip, written next
                    // (so not at the strip's last k). Pointers stepped, no index arithmetic: a few instructions a k.
                    var va = Vector256.Create(alpha);
                    float* src = a + ((p0 + p) * lda) + i0 + s, d = ds + (p * Mr), end = ds + (Math.Min(q1, kc - 1) * Mr);
                    for (; d < end; d += Mr, src += lda)
                    {
                        (Vector256.Load(src) * va).Store(d);
                    }

                    p = Math.Max(p, Math.Min(q1, kc - 1));
                }

                for (; p < q1; p++)
                {
                    float* src = a + ((p0 + p) * lda) + i0 + s;
                    float* d = ds + (p * Mr);
                    d[0] = alpha * src[0];
                    d[1] = alpha * src[1];
                    d[2] = alpha * src[2];
                    d[3] = alpha * src[3];
                    d[4] = alpha * src[4];
                    d[5] = alpha * src[5];
                }
            }

            if (full < rows)
            {
                float* ds = dst + ((nint)full * kc);
                for (int p = q0; p < q1; p++)
                {
                    float* src = a + ((p0 + p) * lda) + i0;
                    for (int i = 0; i < Mr; i++)
                    {
                        ds[(p * Mr) + i] = full + i < rows ? alpha * src[full + i] : 0;
                    }
                }
            }
        }
    }
}
