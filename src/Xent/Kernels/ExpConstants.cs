namespace Xent.Kernels;

/// <summary>
/// Constants of the vector exp. .NET 10 has Vector512.Exp(Vector512&lt;float&gt;) and its accuracy is fine
/// (1.8 ulp measured, but exp(0) = 1.0000001), yet inside the kernels it measured 2.2x slower than a plain
/// float formula (0.39 vs 0.18 ns per element for the forward on one core, block in L1), so the kernels use
/// their own: 2^(x log2 e) with a degree-5 polynomial, 0.15 ns per element. Its domain is x &lt;= 88: the
/// kernels only take exp of z - max or z - lse, which are &lt;= 0 up to rounding. With AVX-512 (DQ for vreduceps)
/// the fraction is t - floor(t) in [0, 1) in one instruction and vscalefps takes floor(t) itself, denormals and
/// -inf included: no round, no subtraction, no underflow select (8 instructions, not 11; the bfloat16 forward
/// loop at 256 bits measured 0.174 -> 0.150 ns per element on one Zen 5 core, block in L1). Without AVX-512 the
/// round is an add of <see cref="RoundingShift"/>, which also builds 2^n (see Vector128Ops.Exp2Rounded; the 256-bit kernels take TableExp there instead).
/// </summary>
internal static class ExpConstants
{
    public const float Log2E = 1.44269504f;

    // 2^f ~ 1 + f (P1 + f (P2 + f (P3 + f (P4 + f P5)))) on [-1/2, 1/2]: a least-squares fit of the relative
    // error at Chebyshev nodes, done for this project (max error 1.9 ulp in float with FMA).
    public const float P1 = 0.6931469f;
    public const float P2 = 0.24022238f;
    public const float P3 = 0.05550893f;
    public const float P4 = 0.009671698f;
    public const float P5 = 0.0013218672f;

    // 2^f ~ 1 + f (Q1 + f (Q2 + f (Q3 + f (Q4 + f Q5)))) on [0, 1): a least-squares fit of the absolute error (the
    // values are in [1, 2), one binade) at Chebyshev nodes, then the float coefficients nudged by ulps to the
    // smallest max error, done for this project: 1.75 ulp in float with FMA, exactly 1 at f = 0.
    public const float Q1 = 0.6931524872779846f;
    public const float Q2 = 0.24015280604362488f;
    public const float Q3 = 0.05583590269088745f;
    public const float Q4 = 0.008973378688097f;
    public const float Q5 = 0.0018852982902899384f;

    /// <summary>vreduceps control: keep no fraction bits (M = 0), round down, suppress the precision exception: t - floor(t).</summary>
    public const byte FractionBelow = 0x09;

    /// <summary>
    /// 1.5 2^23 + 127: adding it to |t| &lt; 2^22 rounds t to a whole n (the sum's ulp is 1) and leaves n + 127 in the
    /// low mantissa bits (1.5 2^23 has none set there), the biased exponent of 2^n.
    /// </summary>
    public const float RoundingShift = 12582912f + 127f;

    /// <summary>Where the rounded exp clamps t: n = -127 gives biased exponent 0, so 2^n is built as exactly 0.</summary>
    public const float LowestExponent = -127f;
}
