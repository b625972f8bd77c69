using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Xent.LinearAlgebra;

/// <summary>
/// 8 x 8 float transposes in AVX registers for the packing routines (a copy: the same bits on every path). Callers
/// check <see cref="IsSupported"/> and fall back to scalar loops.
/// </summary>
internal static unsafe class Transpose8
{
    public static bool IsSupported => Avx.IsSupported;

    /// <summary>
    /// Reads rows r of <paramref name="rowCount"/> (at most 8, the rest taken as zero) 8 floats each at src + r * srcStride,
    /// and returns them transposed: column q (the 8 rows' q-th values) in <paramref name="t0"/> .. <paramref name="t7"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load(float* src, nint srcStride, int rowCount,
        out Vector256<float> t0, out Vector256<float> t1, out Vector256<float> t2, out Vector256<float> t3,
        out Vector256<float> t4, out Vector256<float> t5, out Vector256<float> t6, out Vector256<float> t7)
    {
        // Rows i and i + 4 side by side, one in each 128-bit half (columns 0-3 in l, 4-7 in h): each half then holds a
        // 4 x 4 block, transposed in place by unpacks and shuffles, and a column's two halves are its rows 0-3 and 4-7.
        // No instruction crosses the halves, so none is vperm2f128, whose VEX-only encoding reaches 16 registers: with
        // AVX-512 a loop transposing several blocks (Gemv's four groups) ran out of those 16 and spilled its columns to
        // the stack. 16 shuffles and 8 half loads instead of 24 shuffles: a cached GPT-2-small token's one-row products
        // on one Zen 4 core (`decode-limit 10 1`, 512 bits) 35.6-40.2 ms with vperm2f128, 28.9-30.1 ms without; the
        // blocked products' packing the same within 1-2% (`gemm-limit 7 1`, 'tn' and 'nn').
        float* s4 = src + (4 * srcStride);
        var l0 = Rows(src, s4, true);
        var l1 = Rows(src + srcStride, s4 + srcStride, true);
        var l2 = Rows(src + (2 * srcStride), s4 + (2 * srcStride), rowCount > 6);
        var l3 = Rows(src + (3 * srcStride), s4 + (3 * srcStride), rowCount > 7);
        var h0 = Rows(src + 4, s4 + 4, true);
        var h1 = Rows(src + srcStride + 4, s4 + srcStride + 4, true);
        var h2 = Rows(src + (2 * srcStride) + 4, s4 + (2 * srcStride) + 4, rowCount > 6);
        var h3 = Rows(src + (3 * srcStride) + 4, s4 + (3 * srcStride) + 4, rowCount > 7);
        Transpose4(l0, l1, l2, l3, out t0, out t1, out t2, out t3);
        Transpose4(h0, h1, h2, h3, out t4, out t5, out t6, out t7);
    }

    // Four floats of a row in the low half and four of the row 4 below it in the high half (zeros where that row is
    // past the block's rows).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Rows(float* upper, float* lower, bool lowerExists) =>
        Vector256.Create(Vector128.Load(upper), lowerExists ? Vector128.Load(lower) : Vector128<float>.Zero);

    // The 4 x 4 block in each half of r0 .. r3 (row i in ri) transposed: column q in tq.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose4(Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> r3,
        out Vector256<float> t0, out Vector256<float> t1, out Vector256<float> t2, out Vector256<float> t3)
    {
        var a0 = Avx.UnpackLow(r0, r1);
        var a1 = Avx.UnpackHigh(r0, r1);
        var a2 = Avx.UnpackLow(r2, r3);
        var a3 = Avx.UnpackHigh(r2, r3);
        t0 = Avx.Shuffle(a0, a2, 0x44);
        t1 = Avx.Shuffle(a0, a2, 0xEE);
        t2 = Avx.Shuffle(a1, a3, 0x44);
        t3 = Avx.Shuffle(a1, a3, 0xEE);
    }

    /// <summary>dst + q * dstStride = column q of the 8 x 8 block at src (rows srcStride apart), times alpha.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Block(float* src, nint srcStride, float* dst, nint dstStride, int rowCount, float alpha)
    {
        Load(src, srcStride, rowCount, out var t0, out var t1, out var t2, out var t3, out var t4, out var t5, out var t6, out var t7);
        var s = Vector256.Create(alpha);
        (t0 * s).Store(dst);
        (t1 * s).Store(dst + dstStride);
        (t2 * s).Store(dst + (2 * dstStride));
        (t3 * s).Store(dst + (3 * dstStride));
        (t4 * s).Store(dst + (4 * dstStride));
        (t5 * s).Store(dst + (5 * dstStride));
        (t6 * s).Store(dst + (6 * dstStride));
        (t7 * s).Store(dst + (7 * dstStride));
    }
}
