using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Xent.Kernels;

/// <summary>
/// 2^t for the terms of a sum that is at least 1 (<see cref="IVectorOps{TV}.Exp2Term"/>), with AVX2 and no AVX-512: 2^t =
/// 2^e 2^(j/8) 2^r, t rounded to eighths (e + j/8, j = 0..7) by one add, 2^(j/8) from an 8-entry table by one vpermps,
/// 2^e added into the table entry's exponent bits, and 2^r - 1 for |r| &lt;= 1/16 by a cubic. The polynomial exp
/// (<see cref="PolynomialExp"/>) spends 5 multiply-adds and a multiply on the FMA units; this spends 4 (and one more
/// add, shift and permute, which run beside them): the single-pass loss, bound by those units with AVX2 only, takes
/// that much less time. 1.15 ulp (the polynomial form: 1.9).
/// Where it differs from <see cref="IVectorOps{TV}.Exp2"/>: t is clamped at -126 and the exponent is added rather than
/// multiplied in, so every t below -126, -inf included, gives about 2^-126 instead of a denormal or 0. A sum whose
/// largest term is at least 1 cannot see it (fewer than 2^100 terms), and a sum that is all of them (a lane of -inf
/// logits) is scaled to 0 by the caller's rescaling exp. NaN gives NaN.
/// </summary>
internal static class TableExp
{
    /// <summary>1.5 2^20: adding it to |t| &lt; 2^19 rounds t to eighths (the sum's ulp is 1/8) and leaves 8 round(8t) / 8 in its low mantissa bits.</summary>
    public const float EighthsShift = 1572864f;

    /// <summary>Where t is clamped: 2^-126 is the least normal float, so the exponent added into the table entry never underflows.</summary>
    public const float Lowest = -126f;

    // (2^r - 1) / r ~ C1 + r (C2 + r C3) on [-1/16, 1/16]: a fit of 1 + r (...)'s relative error to 2^r (0.21 ulp in
    // exact arithmetic), done for this project; with the table's rounding and the float steps 1.15 ulp over t in [-126, 1].
    public const float C1 = 0.6931472420692444f;
    public const float C2 = 0.2402576357126236f;
    public const float C3 = 0.0554962232708931f;

    /// <summary>See <see cref="TableExp"/>; only where <see cref="Avx2"/> and FMA are.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp2(Vector256<float> t)
    {
        // Constant first: x86's max returns its second operand when either is NaN.
        t = Vector256.MaxNative(Vector256.Create(Lowest), t);
        Vector256<float> rounded = t + Vector256.Create(EighthsShift);
        Vector256<float> r = t - (rounded - Vector256.Create(EighthsShift));

        // rounded's bits are those of 1.5 2^20 plus k = 8 round(8t) / 8 = 8e + j; shifted left by 20 they are k 2^20 (the
        // shift's constant part leaves the word), which is e 2^23 + j 2^20. Each entry is 2^(j/8)'s bits less j 2^20, so
        // the sum is 2^(j/8) with e added to its exponent. vpermps takes the entry from k's low 3 bits itself.
        Vector256<int> k = rounded.AsInt32();
        Vector256<float> scale = (Avx2.PermuteVar8x32(Entries(), k).AsInt32() + Vector256.ShiftLeft(k, 20)).AsSingle();
        Vector256<float> u = Vector256.FusedMultiplyAdd(Vector256.FusedMultiplyAdd(Vector256.Create(C3), r, Vector256.Create(C2)), r, Vector256.Create(C1)) * r;
        return Vector256.FusedMultiplyAdd(scale, u, scale);
    }

    // 2^(j/8) rounded to float, less j 2^20 in its bits (see Exp2).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Entries() =>
        Vector256.Create(0x3F800000, 0x3F8B95C2 - (1 << 20), 0x3F9837F0 - (2 << 20), 0x3FA5FED7 - (3 << 20), 0x3FB504F3 - (4 << 20), 0x3FC5672A - (5 << 20), 0x3FD744FD - (6 << 20), 0x3FEAC0C7 - (7 << 20)).AsSingle();
}
