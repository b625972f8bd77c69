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
        var r0 = Avx.LoadVector256(src);
        var r1 = Avx.LoadVector256(src + srcStride);
        var r2 = Avx.LoadVector256(src + (2 * srcStride));
        var r3 = Avx.LoadVector256(src + (3 * srcStride));
        var r4 = Avx.LoadVector256(src + (4 * srcStride));
        var r5 = Avx.LoadVector256(src + (5 * srcStride));
        var r6 = rowCount > 6 ? Avx.LoadVector256(src + (6 * srcStride)) : Vector256<float>.Zero;
        var r7 = rowCount > 7 ? Avx.LoadVector256(src + (7 * srcStride)) : Vector256<float>.Zero;

        // Pairs of rows interleaved, then pairs of pairs: each 128-bit lane holds four rows of one column.
        var a0 = Avx.UnpackLow(r0, r1);
        var a1 = Avx.UnpackHigh(r0, r1);
        var a2 = Avx.UnpackLow(r2, r3);
        var a3 = Avx.UnpackHigh(r2, r3);
        var a4 = Avx.UnpackLow(r4, r5);
        var a5 = Avx.UnpackHigh(r4, r5);
        var a6 = Avx.UnpackLow(r6, r7);
        var a7 = Avx.UnpackHigh(r6, r7);
        var b0 = Avx.Shuffle(a0, a2, 0x44);
        var b1 = Avx.Shuffle(a0, a2, 0xEE);
        var b2 = Avx.Shuffle(a1, a3, 0x44);
        var b3 = Avx.Shuffle(a1, a3, 0xEE);
        var b4 = Avx.Shuffle(a4, a6, 0x44);
        var b5 = Avx.Shuffle(a4, a6, 0xEE);
        var b6 = Avx.Shuffle(a5, a7, 0x44);
        var b7 = Avx.Shuffle(a5, a7, 0xEE);
        t0 = Avx.Permute2x128(b0, b4, 0x20);
        t1 = Avx.Permute2x128(b1, b5, 0x20);
        t2 = Avx.Permute2x128(b2, b6, 0x20);
        t3 = Avx.Permute2x128(b3, b7, 0x20);
        t4 = Avx.Permute2x128(b0, b4, 0x31);
        t5 = Avx.Permute2x128(b1, b5, 0x31);
        t6 = Avx.Permute2x128(b2, b6, 0x31);
        t7 = Avx.Permute2x128(b3, b7, 0x31);
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
