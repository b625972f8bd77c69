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

    // Stored [K, M]: one k's values of every strip lie in one row, so the block is read row by row (a strip at a time
    // would touch a new page at every k) and each row's six-value pieces go to their strips.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackATransposed(float* a, nint lda, int i0, int rows, int p0, int kc, float alpha, float* dst)
    {
        int full = rows / Mr * Mr;
        for (int p = 0; p < kc; p++)
        {
            float* src = a + ((p0 + p) * lda) + i0;
            float* d = dst + (p * Mr);
            int s = 0;
            if (p + 1 < kc && Vector256.IsHardwareAccelerated)
            {
                // 8 values copied where 6 belong: the 2 extra land on the next k's place of the strip, written later.
                var va = Vector256.Create(alpha);
                for (; s + 8 <= rows; s += Mr)
                {
                    (Vector256.Load(src + s) * va).Store(d + ((nint)s * kc));
                }
            }

            for (; s < full; s += Mr)
            {
                float* ds = d + ((nint)s * kc);
                ds[0] = alpha * src[s];
                ds[1] = alpha * src[s + 1];
                ds[2] = alpha * src[s + 2];
                ds[3] = alpha * src[s + 3];
                ds[4] = alpha * src[s + 4];
                ds[5] = alpha * src[s + 5];
            }

            if (full < rows)
            {
                float* ds = d + ((nint)full * kc);
                for (int i = 0; i < Mr; i++)
                {
                    ds[i] = full + i < rows ? alpha * src[full + i] : 0;
                }
            }
        }
    }
}
