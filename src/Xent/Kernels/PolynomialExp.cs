using System.Runtime.CompilerServices;

namespace Xent.Kernels;

/// <summary>
/// The two steps of the vector exp that each vector width takes with its own instructions (<see cref="PolynomialExp"/>
/// has the formula around them): 2^t = 2^f 2^n, f from <see cref="Fraction"/>, 2^f by a polynomial in f, then times 2^n
/// by <see cref="Scale"/>.
/// </summary>
/// <typeparam name="TV">The vector type.</typeparam>
internal interface IPolynomialExp<TV>
    where TV : struct
{
    /// <summary>Whether this width's <see cref="IVectorOps{TV}.Exp2"/> takes the AVX-512 form (reduce); a JIT-time constant.</summary>
    static abstract bool Reduces { get; }

    /// <summary>
    /// t's fraction f, and in <paramref name="n"/> what <see cref="Scale"/> needs. With <paramref name="reduce"/> (AVX-512 DQ)
    /// f = t - floor(t) in [0, 1) and n is t itself; otherwise (the rounded form) f = t - round(t) in [-1/2, 1/2] and n holds
    /// round(t) + 127 in its low mantissa bits.
    /// </summary>
    static abstract TV Fraction(TV t, bool reduce, out TV n);

    /// <summary>p 2^n, p = 2^f from the polynomial, n from <see cref="Fraction"/>.</summary>
    static abstract TV Scale(TV p, TV n, bool reduce);
}

/// <summary>
/// The vector exp's formula, once for every width (<see cref="ExpConstants"/> says why it is this one): 2^t as 2^f by a
/// degree-5 polynomial (Q on [0, 1) in the AVX-512 form, P on [-1/2, 1/2] in the rounded form) times 2^n. The 256-bit
/// width without AVX-512 takes <see cref="TableExp"/> instead (fewer multiply-adds, which bound AVX2's exp-heavy loops).
/// </summary>
internal static class PolynomialExp
{
    /// <summary>2^t lane-wise (<see cref="IVectorOps{TV}.Exp2"/>), in the AVX-512 form where <paramref name="reduce"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Exp2<TOps, TV>(TV t, bool reduce)
        where TOps : struct, IVectorOps<TV>, IPolynomialExp<TV>
        where TV : struct
    {
        TV f = TOps.Fraction(t, reduce, out TV n);
        TV p = TOps.MultiplyAdd(Coefficient<TOps, TV>(5, reduce), f, Coefficient<TOps, TV>(4, reduce));
        p = TOps.MultiplyAdd(p, f, Coefficient<TOps, TV>(3, reduce));
        p = TOps.MultiplyAdd(p, f, Coefficient<TOps, TV>(2, reduce));
        p = TOps.MultiplyAdd(p, f, Coefficient<TOps, TV>(1, reduce));
        p = TOps.MultiplyAdd(p, f, TOps.Create(1f));
        return TOps.Scale(p, n, reduce);
    }

    /// <summary>
    /// e^x of four vectors in place (<see cref="IVectorOps{TV}.Exp4"/>): <see cref="Exp2"/> of x log2(e), the same
    /// operations lane for lane, written step by step across the four. One exp is a chain of a dozen dependent steps
    /// (about 40 cycles) that the core does not overlap with the next ones when they are written one after another;
    /// step by step they overlap (AVX2 only, Zen 4: GELU forward and backward 0.72-0.80x the time, the attention's
    /// causal softmax 0.90x; neutral at 512 bits).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Exp4<TOps, TV>(ref TV a, ref TV b, ref TV c, ref TV d)
        where TOps : struct, IVectorOps<TV>, IPolynomialExp<TV>
        where TV : struct
    {
        bool reduce = TOps.Reduces;
        TV log2e = TOps.Create(ExpConstants.Log2E);
        TV fa = TOps.Fraction(TOps.Multiply(a, log2e), reduce, out TV na);
        TV fb = TOps.Fraction(TOps.Multiply(b, log2e), reduce, out TV nb);
        TV fc = TOps.Fraction(TOps.Multiply(c, log2e), reduce, out TV nc);
        TV fd = TOps.Fraction(TOps.Multiply(d, log2e), reduce, out TV nd);
        TV high = Coefficient<TOps, TV>(5, reduce), next = Coefficient<TOps, TV>(4, reduce);
        TV pa = TOps.MultiplyAdd(high, fa, next), pb = TOps.MultiplyAdd(high, fb, next);
        TV pc = TOps.MultiplyAdd(high, fc, next), pd = TOps.MultiplyAdd(high, fd, next);
        Horner<TOps, TV>(ref pa, ref pb, ref pc, ref pd, fa, fb, fc, fd, Coefficient<TOps, TV>(3, reduce));
        Horner<TOps, TV>(ref pa, ref pb, ref pc, ref pd, fa, fb, fc, fd, Coefficient<TOps, TV>(2, reduce));
        Horner<TOps, TV>(ref pa, ref pb, ref pc, ref pd, fa, fb, fc, fd, Coefficient<TOps, TV>(1, reduce));
        Horner<TOps, TV>(ref pa, ref pb, ref pc, ref pd, fa, fb, fc, fd, TOps.Create(1f));
        a = TOps.Scale(pa, na, reduce);
        b = TOps.Scale(pb, nb, reduce);
        c = TOps.Scale(pc, nc, reduce);
        d = TOps.Scale(pd, nd, reduce);
    }

    // One Horner step of the four polynomials: p = p f + coefficient.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Horner<TOps, TV>(ref TV pa, ref TV pb, ref TV pc, ref TV pd, TV fa, TV fb, TV fc, TV fd, TV coefficient)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        pa = TOps.MultiplyAdd(pa, fa, coefficient);
        pb = TOps.MultiplyAdd(pb, fb, coefficient);
        pc = TOps.MultiplyAdd(pc, fc, coefficient);
        pd = TOps.MultiplyAdd(pd, fd, coefficient);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Coefficient<TOps, TV>(int degree, bool reduce)
        where TOps : struct, IVectorOps<TV>
        where TV : struct =>
        TOps.Create(degree switch
        {
            1 => reduce ? ExpConstants.Q1 : ExpConstants.P1,
            2 => reduce ? ExpConstants.Q2 : ExpConstants.P2,
            3 => reduce ? ExpConstants.Q3 : ExpConstants.P3,
            4 => reduce ? ExpConstants.Q4 : ExpConstants.P4,
            _ => reduce ? ExpConstants.Q5 : ExpConstants.P5,
        });
}
