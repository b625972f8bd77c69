using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Xent.Kernels;

/// <summary>512-bit lanes (AVX-512).</summary>
internal readonly struct Vector512Ops : IVectorOps<Vector512<float>>
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp2(Vector512<float> t)
    {
        if (Avx512DQ.IsSupported)
        {
            // 2^t = 2^f 2^floor(t), f = t - floor(t) in [0, 1) by vreduceps (exact), 2^f by the Q polynomial
            // (1.75 ulp), times 2^floor(t) by vscalefps (Exp rounds t = x log2(e) once, so its relative error grows
            // as |x| 6e-8: nothing near the max, where the mass is), which gives denormals below e^-87.3, 0 below e^-103.9 and
            // for -inf (vreduceps gives 0 there), inf for +inf and NaN for NaN: no select needed.
            var g = Avx512DQ.Reduce(t, ExpConstants.FractionBelow);
            // Fused without a check: AVX-512 implies FMA (in hardware and in .NET's instruction-set model).
            var q = Vector512.FusedMultiplyAdd(Vector512.Create(ExpConstants.Q5), g, Vector512.Create(ExpConstants.Q4));
            q = Vector512.FusedMultiplyAdd(q, g, Vector512.Create(ExpConstants.Q3));
            q = Vector512.FusedMultiplyAdd(q, g, Vector512.Create(ExpConstants.Q2));
            q = Vector512.FusedMultiplyAdd(q, g, Vector512.Create(ExpConstants.Q1));
            q = Vector512.FusedMultiplyAdd(q, g, Vector512<float>.One);
            return Avx512F.Scale(q, t);
        }

        return Exp2Rounded(t);
    }

    /// <summary>
    /// <see cref="Exp2"/> without AVX-512 (never used where Vector512 is accelerated, which needs AVX-512 DQ; kept so that every width has the same fallback):
    /// the formula of <see cref="Vector256Ops.Exp2Rounded"/>, lane for lane. Internal rather than private so that tests reach it on any machine.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Exp2Rounded(Vector512<float> t)
    {
        t = Vector512.MaxNative(Vector512.Create(ExpConstants.LowestExponent), t);
        var y = t + Vector512.Create(ExpConstants.RoundingShift);
        var f = t - (y - Vector512.Create(ExpConstants.RoundingShift));
        var p = MultiplyAdd(Vector512.Create(ExpConstants.P5), f, Vector512.Create(ExpConstants.P4));
        p = MultiplyAdd(p, f, Vector512.Create(ExpConstants.P3));
        p = MultiplyAdd(p, f, Vector512.Create(ExpConstants.P2));
        p = MultiplyAdd(p, f, Vector512.Create(ExpConstants.P1));
        p = MultiplyAdd(p, f, Vector512<float>.One);

        return p * Vector512.ShiftLeft(y.AsInt32(), 23).AsSingle();
    }

    public static Vector512<float> LessThan(Vector512<float> a, Vector512<float> b) => Vector512.LessThan(a, b);

    public static bool AllLessThan(Vector512<float> a, Vector512<float> b) => Vector512.LessThanAll(a, b);

    public static Vector512<float> Select(Vector512<float> mask, Vector512<float> a, Vector512<float> b) => Vector512.ConditionalSelect(mask, a, b);

    public static Vector512<float> KeepFrom(Vector512<float> value, int firstLane) =>
        value & Vector512.GreaterThanOrEqual(Vector512<int>.Indices, Vector512.Create(firstLane)).AsSingle();

    public static float Sum(Vector512<float> value) => Vector512.Sum(value);

    public static float MaxAcross(Vector512<float> value) => Vector256Ops.MaxAcross(Vector256.MaxNative(value.GetLower(), value.GetUpper()));
}
