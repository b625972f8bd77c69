using System.Diagnostics;
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

    /// <summary>
    /// 2^t: with AVX-512 the polynomial's reduce form (<see cref="PolynomialExp"/>), without it the table form
    /// (<see cref="TableExp"/>), which spends fewer of the multiply-adds that bound the exp-heavy loops on AVX2.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp2(Vector256<float> t) =>
        Reduces ? PolynomialExp.Exp2<Vector256Ops, Vector256<float>>(t, true) : TableExp.Exp2(t);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Exp4(ref Vector256<float> a, ref Vector256<float> b, ref Vector256<float> c, ref Vector256<float> d)
    {
        if (Reduces)
        {
            PolynomialExp.Exp4<Vector256Ops, Vector256<float>>(ref a, ref b, ref c, ref d);
            return;
        }

        Vector256<float> log2e = Vector256.Create(ExpConstants.Log2E);
        a *= log2e;
        b *= log2e;
        c *= log2e;
        d *= log2e;
        TableExp.Exp2x4(ref a, ref b, ref c, ref d);
    }

    /// <inheritdoc/>
    /// <remarks>Only the reduce form: without AVX-512 this width takes <see cref="TableExp"/> instead (vreduceps would throw).</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Fraction(Vector256<float> t, bool reduce, out Vector256<float> n)
    {
        Debug.Assert(reduce, "without AVX-512 the 256-bit exp is TableExp");
        n = t;
        return Avx512DQ.VL.Reduce(t, ExpConstants.FractionBelow);
    }

    /// <inheritdoc/>
    /// <remarks>Only the reduce form (see <see cref="Fraction"/>).</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Scale(Vector256<float> p, Vector256<float> n, bool reduce) => Avx512F.VL.Scale(p, n);

    public static Vector256<float> LessThan(Vector256<float> a, Vector256<float> b) => Vector256.LessThan(a, b);

    public static bool AllLessThan(Vector256<float> a, Vector256<float> b) => Vector256.LessThanAll(a, b);

    public static Vector256<float> Select(Vector256<float> mask, Vector256<float> a, Vector256<float> b) => Vector256.ConditionalSelect(mask, a, b);

    public static Vector256<float> KeepFrom(Vector256<float> value, int firstLane) =>
        value & Vector256.GreaterThanOrEqual(Vector256<int>.Indices, Vector256.Create(firstLane)).AsSingle();

    public static float Sum(Vector256<float> value) => Vector256.Sum(value);

    public static double SumWide(Vector256<float> value) => Vector256.Sum(Vector256.WidenLower(value) + Vector256.WidenUpper(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double SumWide(Vector256<float> a, Vector256<float> b) =>
        Vector256.Sum((Vector256.WidenLower(a) + Vector256.WidenUpper(a)) + (Vector256.WidenLower(b) + Vector256.WidenUpper(b)));

    public static float MaxAcross(Vector256<float> value) => Vector128Ops.MaxAcross(Vector128.MaxNative(value.GetLower(), value.GetUpper()));
}
