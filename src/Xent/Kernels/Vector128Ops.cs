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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Exp2Term(Vector128<float> t) => Exp2(t);

    /// <summary>
    /// <see cref="Exp2"/> without AVX-512 (SSE, AdvSimd, and AVX2 where this width serves blocks too short for 256
    /// bits): the formula of <see cref="Vector256Ops.Exp2Rounded"/>, lane for lane. Internal rather than private so that
    /// tests reach it on any machine.
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
            n = t;
            return Avx512DQ.VL.Reduce(t, ExpConstants.FractionBelow);
        }

        t = Vector128.MaxNative(Vector128.Create(ExpConstants.LowestExponent), t);
        n = t + Vector128.Create(ExpConstants.RoundingShift);
        return t - (n - Vector128.Create(ExpConstants.RoundingShift));
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Scale(Vector128<float> p, Vector128<float> n, bool reduce) =>
        reduce ? Avx512F.VL.Scale(p, n) : p * Vector128.ShiftLeft(n.AsInt32(), 23).AsSingle();

    public static Vector128<float> LessThan(Vector128<float> a, Vector128<float> b) => Vector128.LessThan(a, b);

    public static bool AllLessThan(Vector128<float> a, Vector128<float> b) => Vector128.LessThanAll(a, b);

    public static Vector128<float> Select(Vector128<float> mask, Vector128<float> a, Vector128<float> b) => Vector128.ConditionalSelect(mask, a, b);

    public static Vector128<float> KeepFrom(Vector128<float> value, int firstLane) =>
        value & Vector128.GreaterThanOrEqual(Vector128<int>.Indices, Vector128.Create(firstLane)).AsSingle();

    public static float Sum(Vector128<float> value) => Vector128.Sum(value);

    public static float MaxAcross(Vector128<float> value)
    {
        float m = value.GetElement(0);
        for (int i = 1; i < Vector128<float>.Count; i++)
        {
            m = MathF.Max(m, value.GetElement(i));
        }

        return m;
    }
}
