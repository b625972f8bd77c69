using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Xent.Kernels;

/// <summary>512-bit lanes (AVX-512).</summary>
internal readonly struct Vector512Ops : IVectorOps<Vector512<float>>, IPolynomialExp<Vector512<float>>
{
    public static int Count => Vector512<float>.Count;

    public static Vector512<float> Create(float value) => Vector512.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load(ref float source, nint index) => Vector512.LoadUnsafe(ref source, (nuint)index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<float> value, ref float destination, nint index) => value.StoreUnsafe(ref destination, (nuint)index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void StoreNonTemporal(Vector512<float> value, ref float destination, nint index) =>
        value.StoreAlignedNonTemporal((float*)Unsafe.AsPointer(ref Unsafe.Add(ref destination, index)));

    public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;

    public static Vector512<float> Subtract(Vector512<float> a, Vector512<float> b) => a - b;

    public static Vector512<float> Multiply(Vector512<float> a, Vector512<float> b) => a * b;

    // Fused without a check: this width runs only where AVX2, and so FMA, is (why no check: Simd.FusedMultiplyAddIsHardware).
    public static Vector512<float> MultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);

    public static Vector512<float> Divide(Vector512<float> a, Vector512<float> b) => a / b;

    public static Vector512<float> Sqrt(Vector512<float> a) => Vector512.Sqrt(a);

    public static Vector512<float> Max(Vector512<float> a, Vector512<float> b) => Vector512.MaxNative(a, b);

    public static Vector512<float> Abs(Vector512<float> a) => Vector512.Abs(a);

    public static Vector512<float> CopySign(Vector512<float> value, Vector512<float> sign) => Vector512.CopySign(value, sign);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x) => Exp2(x * Vector512.Create(ExpConstants.Log2E));

    public static bool Reduces => Avx512DQ.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp2(Vector512<float> t) => PolynomialExp.Exp2<Vector512Ops, Vector512<float>>(t, Reduces);

    /// <summary>
    /// <see cref="Exp2"/> without AVX-512 (never used where Vector512 is accelerated, which needs AVX-512 DQ; kept so
    /// that every width has the same fallback): the formula of <see cref="Vector128Ops.Exp2Rounded"/>, lane for lane.
    /// Internal rather than private so that tests reach it on any machine.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Exp2Rounded(Vector512<float> t) => PolynomialExp.Exp2<Vector512Ops, Vector512<float>>(t, false);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Exp4(ref Vector512<float> a, ref Vector512<float> b, ref Vector512<float> c, ref Vector512<float> d) =>
        PolynomialExp.Exp4<Vector512Ops, Vector512<float>>(ref a, ref b, ref c, ref d);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Fraction(Vector512<float> t, bool reduce, out Vector512<float> n)
    {
        if (reduce)
        {
            n = t;
            return Avx512DQ.Reduce(t, ExpConstants.FractionBelow);
        }

        t = Vector512.MaxNative(Vector512.Create(ExpConstants.LowestExponent), t);
        n = t + Vector512.Create(ExpConstants.RoundingShift);
        return t - (n - Vector512.Create(ExpConstants.RoundingShift));
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Scale(Vector512<float> p, Vector512<float> n, bool reduce) =>
        reduce ? Avx512F.Scale(p, n) : p * Vector512.ShiftLeft(n.AsInt32(), 23).AsSingle();

    public static Vector512<float> LessThan(Vector512<float> a, Vector512<float> b) => Vector512.LessThan(a, b);

    public static bool AllLessThan(Vector512<float> a, Vector512<float> b) => Vector512.LessThanAll(a, b);

    public static Vector512<float> Select(Vector512<float> mask, Vector512<float> a, Vector512<float> b) => Vector512.ConditionalSelect(mask, a, b);

    public static Vector512<float> KeepFrom(Vector512<float> value, int firstLane) =>
        value & Vector512.GreaterThanOrEqual(Vector512<int>.Indices, Vector512.Create(firstLane)).AsSingle();

    public static float Sum(Vector512<float> value) => Vector512.Sum(value);

    public static double SumWide(Vector512<float> value) => Vector512.Sum(Vector512.WidenLower(value) + Vector512.WidenUpper(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double SumWide(Vector512<float> a, Vector512<float> b) =>
        Vector512.Sum((Vector512.WidenLower(a) + Vector512.WidenUpper(a)) + (Vector512.WidenLower(b) + Vector512.WidenUpper(b)));

    public static float MaxAcross(Vector512<float> value) => Vector256Ops.MaxAcross(Vector256.MaxNative(value.GetLower(), value.GetUpper()));
}
