using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Xent.Kernels;

/// <summary>256-bit lanes (AVX2).</summary>
internal readonly struct Vector256Ops : IVectorOps<Vector256<float>>, IPolynomialExp<Vector256<float>>
{
    public static int Count => Vector256<float>.Count;

    public static Vector256<float> Create(float value) => Vector256.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(ref float source, nint index) => Vector256.LoadUnsafe(ref source, (nuint)index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<float> value, ref float destination, nint index) => value.StoreUnsafe(ref destination, (nuint)index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void StoreNonTemporal(Vector256<float> value, ref float destination, nint index) =>
        value.StoreAlignedNonTemporal((float*)Unsafe.AsPointer(ref Unsafe.Add(ref destination, index)));

    public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;

    public static Vector256<float> Subtract(Vector256<float> a, Vector256<float> b) => a - b;

    public static Vector256<float> Multiply(Vector256<float> a, Vector256<float> b) => a * b;

    // Fused without a check: this width runs only where AVX2, and so FMA, is (why no check: Simd.FusedMultiplyAddIsHardware).
    public static Vector256<float> MultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);

    public static Vector256<float> Divide(Vector256<float> a, Vector256<float> b) => a / b;

    public static Vector256<float> Sqrt(Vector256<float> a) => Vector256.Sqrt(a);

    public static Vector256<float> Max(Vector256<float> a, Vector256<float> b) => Vector256.MaxNative(a, b);

    public static Vector256<float> Abs(Vector256<float> a) => Vector256.Abs(a);

    public static Vector256<float> CopySign(Vector256<float> value, Vector256<float> sign) => Vector256.CopySign(value, sign);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x) => Exp2(x * Vector256.Create(ExpConstants.Log2E));

    public static bool Reduces => Avx512DQ.VL.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp2(Vector256<float> t) => PolynomialExp.Exp2<Vector256Ops, Vector256<float>>(t, Reduces);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp2Term(Vector256<float> t) => Reduces ? Exp2(t) : TableExp.Exp2(t);

    /// <summary>
    /// <see cref="Exp2"/> without AVX-512 (AVX2, SSE, AdvSimd): 2^t = 2^n 2^f with n = round(t), |f| &lt;= 1/2, 2^f by the
    /// P polynomial (1.9 ulp), times 2^n built in the exponent bits. Denormals from p 2^-126 (t &gt; -126.5), 0 from there
    /// and for -inf, NaN for NaN. Internal rather than private so that tests reach it on any machine.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Exp2Rounded(Vector256<float> t) => PolynomialExp.Exp2<Vector256Ops, Vector256<float>>(t, false);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Exp4(ref Vector256<float> a, ref Vector256<float> b, ref Vector256<float> c, ref Vector256<float> d) =>
        PolynomialExp.Exp4<Vector256Ops, Vector256<float>>(ref a, ref b, ref c, ref d);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Fraction(Vector256<float> t, bool reduce, out Vector256<float> n)
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
        t = Vector256.MaxNative(Vector256.Create(ExpConstants.LowestExponent), t);

        // n = t + 1.5 2^23 + 127 rounds to a whole number (ties to an even round(t) + 127, so f = +-1/2 there, both ends
        // of the polynomial's interval), and its low mantissa bits hold round(t) + 127, the biased exponent of
        // 2^round(t): shifted into place (Scale) they are that power itself (0 for -127). One add and one shift
        // instead of a round, a conversion, an add and a shift, and the clamp instead of a compare and a select: 11
        // instructions, not 13 (float Loss under DOTNET_EnableAVX512=0, one Zen 5 core, block in L1: 0.216 -> 0.206
        // ns per element). round(t) = n - (1.5 2^23 + 127) and f = t - round(t) are exact.
        n = t + Vector256.Create(ExpConstants.RoundingShift);
        return t - (n - Vector256.Create(ExpConstants.RoundingShift));
    }

    /// <inheritdoc/>
    // The rounded form multiplies rather than adding into p's exponent bits: NaN * anything is NaN, whatever bits the
    // shift leaves.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Scale(Vector256<float> p, Vector256<float> n, bool reduce) =>
        reduce ? Avx512F.VL.Scale(p, n) : p * Vector256.ShiftLeft(n.AsInt32(), 23).AsSingle();

    public static Vector256<float> LessThan(Vector256<float> a, Vector256<float> b) => Vector256.LessThan(a, b);

    public static bool AllLessThan(Vector256<float> a, Vector256<float> b) => Vector256.LessThanAll(a, b);

    public static Vector256<float> Select(Vector256<float> mask, Vector256<float> a, Vector256<float> b) => Vector256.ConditionalSelect(mask, a, b);

    public static Vector256<float> KeepFrom(Vector256<float> value, int firstLane) =>
        value & Vector256.GreaterThanOrEqual(Vector256<int>.Indices, Vector256.Create(firstLane)).AsSingle();

    public static float Sum(Vector256<float> value) => Vector256.Sum(value);

    public static float MaxAcross(Vector256<float> value) => Vector128Ops.MaxAcross(Vector128.MaxNative(value.GetLower(), value.GetUpper()));
}
