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
            var q = Vector512.FusedMultiplyAdd(Vector512.Create(ExpConstants.Q5), g, Vector512.Create(ExpConstants.Q4));
            q = Vector512.FusedMultiplyAdd(q, g, Vector512.Create(ExpConstants.Q3));
            q = Vector512.FusedMultiplyAdd(q, g, Vector512.Create(ExpConstants.Q2));
            q = Vector512.FusedMultiplyAdd(q, g, Vector512.Create(ExpConstants.Q1));
            q = Vector512.FusedMultiplyAdd(q, g, Vector512<float>.One);
            return Avx512F.Scale(q, t);
        }

        // Without AVX-512: 2^t = 2^n 2^f with n = round(t), |f| <= 1/2; 2^f by a degree-5 polynomial (fitted for
        // this project, 1.9 ulp); 2^n built in the exponent bits. Lanes below 2^-125.5 (e^-87) give 0 (2^n would
        // need denormals); NaN stays NaN through the multiplications.
        var n = Vector512.Round(t);
        var f = t - n;
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(ExpConstants.P5), f, Vector512.Create(ExpConstants.P4));
        p = Vector512.FusedMultiplyAdd(p, f, Vector512.Create(ExpConstants.P3));
        p = Vector512.FusedMultiplyAdd(p, f, Vector512.Create(ExpConstants.P2));
        p = Vector512.FusedMultiplyAdd(p, f, Vector512.Create(ExpConstants.P1));
        p = Vector512.FusedMultiplyAdd(p, f, Vector512<float>.One);
        Vector512<float> e;
        if (Avx512F.IsSupported)
        {
            // vscalefps: p 2^n in one instruction, the same value as building 2^n in the exponent bits.
            e = Avx512F.Scale(p, n);
        }
        else
        {
            // n is already whole: the native (unchecked) conversion is exact, and lanes where it is not (-inf,
            // NaN) are replaced below or stay NaN through p.
            var scale = Vector512.ShiftLeft(Vector512.ConvertToInt32Native(n) + Vector512.Create(127), 23).AsSingle();
            e = p * scale;
        }

        return Vector512.ConditionalSelect(Vector512.LessThan(t, Vector512.Create(ExpConstants.LowestPowerOfTwo)), Vector512<float>.Zero, e);
    }

    public static Vector512<float> LessThan(Vector512<float> a, Vector512<float> b) => Vector512.LessThan(a, b);

    public static bool AllLessThan(Vector512<float> a, Vector512<float> b) => Vector512.LessThanAll(a, b);

    public static Vector512<float> Select(Vector512<float> mask, Vector512<float> a, Vector512<float> b) => Vector512.ConditionalSelect(mask, a, b);

    public static Vector512<float> KeepFrom(Vector512<float> value, int firstLane) =>
        value & Vector512.GreaterThanOrEqual(Vector512<int>.Indices, Vector512.Create(firstLane)).AsSingle();

    public static float Sum(Vector512<float> value) => Vector512.Sum(value);

    public static float MaxAcross(Vector512<float> value) => Vector256Ops.MaxAcross(Vector256.MaxNative(value.GetLower(), value.GetUpper()));
}
