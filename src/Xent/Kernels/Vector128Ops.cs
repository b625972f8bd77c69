using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Xent.Kernels;

/// <summary>128-bit lanes (SSE, AdvSimd).</summary>
internal readonly struct Vector128Ops : IVectorOps<Vector128<float>>, IPolynomialExp<Vector128<float>>
{
    public static int Count => Vector128<float>.Count;

    public static Vector128<float> Create(float value) => Vector128.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Load(ref float source, nint index) => Vector128.LoadUnsafe(ref source, (nuint)index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector128<float> value, ref float destination, nint index) => value.StoreUnsafe(ref destination, (nuint)index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void StoreNonTemporal(Vector128<float> value, ref float destination, nint index) =>
        value.StoreAlignedNonTemporal((float*)Unsafe.AsPointer(ref Unsafe.Add(ref destination, index)));

    public static Vector128<float> Add(Vector128<float> a, Vector128<float> b) => a + b;

    public static Vector128<float> Subtract(Vector128<float> a, Vector128<float> b) => a - b;

    public static Vector128<float> Multiply(Vector128<float> a, Vector128<float> b) => a * b;

    /// <summary>Fused where <see cref="Simd.FusedMultiplyAddIsHardware"/>, else a product and a sum: the JIT's own choice in MultiplyAddEstimate (why not a check: see there).</summary>
    public static Vector128<float> MultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Vector128.MultiplyAddEstimate(a, b, c);

    public static Vector128<float> Divide(Vector128<float> a, Vector128<float> b) => a / b;

    public static Vector128<float> Sqrt(Vector128<float> a) => Vector128.Sqrt(a);

    public static Vector128<float> Max(Vector128<float> a, Vector128<float> b) => Vector128.MaxNative(a, b);

    public static Vector128<float> Abs(Vector128<float> a) => Vector128.Abs(a);

    public static Vector128<float> CopySign(Vector128<float> value, Vector128<float> sign) => Vector128.CopySign(value, sign);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Exp(Vector128<float> x) => Exp2(x * Vector128.Create(ExpConstants.Log2E));

    public static bool Reduces => Avx512DQ.VL.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Exp2(Vector128<float> t) => PolynomialExp.Exp2<Vector128Ops, Vector128<float>>(t, Reduces);

    /// <summary>
    /// <see cref="Exp2"/> without AVX-512 (SSE, AdvSimd, and AVX2 where this width serves blocks too short for 256
    /// bits): 2^t = 2^n 2^f with n = round(t), |f| &lt;= 1/2, 2^f by the P polynomial (1.9 ulp), times 2^n built in the
    /// exponent bits. Denormals from p 2^-126 (t &gt; -126.5), 0 from there and for -inf, NaN for NaN. Internal rather
    /// than private so that tests reach it on any machine.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> Exp2Rounded(Vector128<float> t) => PolynomialExp.Exp2<Vector128Ops, Vector128<float>>(t, false);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Exp4(ref Vector128<float> a, ref Vector128<float> b, ref Vector128<float> c, ref Vector128<float> d) =>
        PolynomialExp.Exp4<Vector128Ops, Vector128<float>>(ref a, ref b, ref c, ref d);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Fraction(Vector128<float> t, bool reduce, out Vector128<float> n)
    {
        if (reduce)
        {
            // 2^t = 2^f 2^floor(t), f = t - floor(t) in [0, 1) by vreduceps (exact), 2^f by the Q polynomial
            // (1.75 ulp), times 2^floor(t) by vscalefps (Exp rounds t = x log2(e) once, so its relative error grows
            // as |x| 6e-8: nothing near the max, where the mass is), which gives denormals below e^-87.3, 0 below e^-103.9 and
            // for -inf (vreduceps gives 0 there), inf for +inf and NaN for NaN: no select needed. The polynomial is
            // fused without a check: AVX-512 implies FMA (in hardware and in .NET's instruction-set model).
            n = t;
            return Avx512DQ.VL.Reduce(t, ExpConstants.FractionBelow);
        }

        // Clamping at -127 makes -inf (which would give f = NaN) and everything below give 2^n = 0: no compare and select.
        // Constant first: x86's max returns its second operand when either is NaN, so NaN stays NaN.
        t = Vector128.MaxNative(Vector128.Create(ExpConstants.LowestExponent), t);

        // n = t + 1.5 2^23 + 127 rounds to a whole number (ties to an even round(t) + 127, so f = +-1/2 there, both ends
        // of the polynomial's interval), and its low mantissa bits hold round(t) + 127, the biased exponent of
        // 2^round(t): shifted into place (Scale) they are that power itself (0 for -127). One add and one shift
        // instead of a round, a conversion, an add and a shift, and the clamp instead of a compare and a select: 11
        // instructions, not 13 (float Loss under DOTNET_EnableAVX512=0, one Zen 5 core, block in L1: 0.216 -> 0.206
        // ns per element, measured at 256 bits before that width took TableExp). round(t) = n - (1.5 2^23 + 127) and
        // f = t - round(t) are exact.
        n = t + Vector128.Create(ExpConstants.RoundingShift);
        return t - (n - Vector128.Create(ExpConstants.RoundingShift));
    }

    /// <inheritdoc/>
    // The rounded form multiplies rather than adding into p's exponent bits: NaN * anything is NaN, whatever bits the
    // shift leaves.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Scale(Vector128<float> p, Vector128<float> n, bool reduce) =>
        reduce ? Avx512F.VL.Scale(p, n) : p * Vector128.ShiftLeft(n.AsInt32(), 23).AsSingle();

    public static Vector128<float> LessThan(Vector128<float> a, Vector128<float> b) => Vector128.LessThan(a, b);

    public static bool AllLessThan(Vector128<float> a, Vector128<float> b) => Vector128.LessThanAll(a, b);

    public static Vector128<float> Select(Vector128<float> mask, Vector128<float> a, Vector128<float> b) => Vector128.ConditionalSelect(mask, a, b);

    public static Vector128<float> KeepFrom(Vector128<float> value, int firstLane) =>
        value & Vector128.GreaterThanOrEqual(Vector128<int>.Indices, Vector128.Create(firstLane)).AsSingle();

    public static float Sum(Vector128<float> value) => Vector128.Sum(value);

    public static double SumWide(Vector128<float> value) => Vector128.Sum(Vector128.WidenLower(value) + Vector128.WidenUpper(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double SumWide(Vector128<float> a, Vector128<float> b) =>
        Vector128.Sum((Vector128.WidenLower(a) + Vector128.WidenUpper(a)) + (Vector128.WidenLower(b) + Vector128.WidenUpper(b)));

    /// <summary>
    /// The lanes' max as <see cref="MathF.Max(float, float)"/> takes it lane after lane: the first NaN, and +0 over -0.
    /// Without NaN, a max other than 0 is the same value and the same bits whatever the order, so two steps of lanes
    /// against lanes give it; only a NaN or a max of 0 takes the lane-after-lane chain. A short row's statistics wait
    /// on this max (its exponentials need it), and the chain of three scalar maxima was most of the wait.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(Vector128<float> value)
    {
        var pairs = Vector128.MaxNative(value, Vector128.Shuffle(value, Vector128.Create(1, 0, 3, 2)));
        float max = Vector128.MaxNative(pairs, Vector128.Shuffle(pairs, Vector128.Create(2, 3, 0, 1))).ToScalar();
        return max != 0f && Vector128.EqualsAll(value, value) ? max : MaxAcrossInOrder(value);
    }

    private static float MaxAcrossInOrder(Vector128<float> value)
    {
        float m = value.GetElement(0);
        for (int i = 1; i < Vector128<float>.Count; i++)
        {
            m = MathF.Max(m, value.GetElement(i));
        }

        return m;
    }
}
