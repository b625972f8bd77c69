using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Xent.Kernels;

/// <summary>
/// The 256-bit exp with AVX2 and no AVX-512 (<see cref="Vector256Ops.Exp2"/> there): 2^t = 2^e 2^(j/8) 2^r, t rounded
/// to eighths (e + j/8, j = 0..7) by one add, 2^(j/8) from an 8-entry table by one vpermps, 2^e added into the entry's
/// exponent bits by an integer add, and 2^r - 1 for |r| &lt;= 1/16 by a cubic: 4 multiply-adds where the polynomial form
/// (<see cref="PolynomialExp"/>, P on [-1/2, 1/2], which the other widths keep without AVX-512) takes 6 (float `Loss`
/// 0.245 -> 0.217 ns per logit on one Zen 4 core, block in L2), and a last step that keeps the chain from r short
/// (<see cref="Finish"/>). 1.16 ulp down to 2^-122, 1.45 between 2^-126 and 2^-122 (the
/// polynomial form: 1.9); below 2^-126, on (-127, -126), a value under 2^-126 instead of an accurate denormal (an error
/// under 1.2e-38); 0 from -127 down and for -inf; NaN for NaN; for t &lt;= 127.
/// </summary>
internal static class TableExp
{
    /// <summary>
    /// 1.5 2^20 + 127: adding it to t in [-127, 128) rounds t to eighths (the sum's ulp is 1/8) and leaves k = 8 (round(8t)
    /// / 8 + 127) in its low mantissa bits (1.5 2^20 has none set there): 8 b + j, with b = e + 127 the biased exponent.
    /// </summary>
    public const float EighthsShift = 1572864f + 127f;

    /// <summary>Where t is clamped: k = 0 there, so b = 0 and j = 0 build exactly 0 (see <see cref="Exp2"/>).</summary>
    public const float Lowest = -127f;

    // (2^r - 1) / r ~ C1 + r (C2 + r C3) on [-1/16, 1/16]: a fit of 1 + r (...)'s relative error to 2^r (0.21 ulp in
    // exact arithmetic), done for this project; with the table's rounding and the float steps 1.16 ulp.
    public const float C1 = 0.6931472420692444f;
    public const float C2 = 0.2402576357126236f;
    public const float C3 = 0.0554962232708931f;

    /// <summary>2^t lane-wise (see <see cref="TableExp"/>); only where AVX2 and FMA are.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp2(Vector256<float> t)
    {
        Vector256<float> r = Reduce(ref t);
        return Finish(Scale(t), r, Polynomial(r));
    }

    /// <summary>
    /// 2^x of four vectors in place (<see cref="Vector256Ops.Exp4"/>): <see cref="Exp2"/>'s steps, each taken across the
    /// four before the next, so that the four chains overlap (see <see cref="PolynomialExp.Exp4"/>); the same bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Exp2x4(ref Vector256<float> a, ref Vector256<float> b, ref Vector256<float> c, ref Vector256<float> d)
    {
        Vector256<float> ra = Reduce(ref a), rb = Reduce(ref b), rc = Reduce(ref c), rd = Reduce(ref d);
        Vector256<float> sa = Scale(a), sb = Scale(b), sc = Scale(c), sd = Scale(d);
        Vector256<float> pa = Polynomial(ra), pb = Polynomial(rb), pc = Polynomial(rc), pd = Polynomial(rd);
        a = Finish(sa, ra, pa);
        b = Finish(sb, rb, pb);
        c = Finish(sc, rc, pc);
        d = Finish(sd, rd, pd);
    }

    // t clamped, and in its place t + EighthsShift (whose bits Scale reads); returns r = t - round(8t) / 8, exact.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Reduce(ref Vector256<float> t)
    {
        // Constant first: x86's max returns its second operand when either is NaN, so NaN stays NaN.
        Vector256<float> clamped = Vector256.MaxNative(Vector256.Create(Lowest), t);
        t = clamped + Vector256.Create(EighthsShift);
        return clamped - (t - Vector256.Create(EighthsShift));
    }

    // 2^(j/8) 2^e from the rounded sum's bits: shifted left by 20 they are k 2^20 (the constant's own bits leave the
    // word), which is b 2^23 + j 2^20. Each entry is 2^(j/8)'s bits less 127 2^23 and j 2^20, so the integer sum is
    // 2^(j/8) with exponent b: 2^(j/8) 2^e, or for b = 0 a value under 2^-126, exactly 0 where j = 0 too (t = -127, -inf).
    // vpermps takes the entry from k's low 3 bits itself.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Scale(Vector256<float> rounded)
    {
        Vector256<int> k = rounded.AsInt32();
        return (Avx2.PermuteVar8x32(Entries(), k).AsInt32() + Vector256.ShiftLeft(k, 20)).AsSingle();
    }

    // (2^r - 1) / r, as C1 + r (C2 + r C3).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Polynomial(Vector256<float> r) =>
        Vector256.FusedMultiplyAdd(Vector256.FusedMultiplyAdd(Vector256.Create(C3), r, Vector256.Create(C2)), r, Vector256.Create(C1));

    // 2^e 2^(j/8) (1 + r p(r)) as scale + (scale r) p(r): scale r is ready while the polynomial runs, so the chain from r
    // is the polynomial's two multiply-adds and this one, not a multiply besides. The AVX2 loops are bound by how many
    // exps' chains the scheduler holds in flight, not by the units (about 6 cycles an exp on a Zen 4 core where its
    // instructions need 4): one Zen 4 core's AVX2 `Loss` 0.215-0.218 -> 0.208-0.211 ns per logit, `LossAndGradient`
    // 0.296-0.300 -> 0.289-0.293. Below 2^-122 scale r is a denormal: up to 1.45 ulp there. NaN stays NaN through r.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Finish(Vector256<float> scale, Vector256<float> r, Vector256<float> polynomial) =>
        Vector256.FusedMultiplyAdd(scale * r, polynomial, scale);

    // 2^(j/8) rounded to float, less 127 2^23 and j 2^20 in its bits (see Scale).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Entries() =>
        (Vector256.Create(0x3F800000, 0x3F8B95C2, 0x3F9837F0, 0x3FA5FED7, 0x3FB504F3, 0x3FC5672A, 0x3FD744FD, 0x3FEAC0C7)
            - Vector256.Create(127 << 23) - (Vector256<int>.Indices << 20)).AsSingle();
}
