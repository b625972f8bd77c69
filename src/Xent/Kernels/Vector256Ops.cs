using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Xent.Kernels;

/// <summary>256-bit lanes (AVX2).</summary>
internal readonly struct Vector256Ops : IVectorOps<Vector256<float>>
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

    public static Vector256<float> MultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);

    public static Vector256<float> Divide(Vector256<float> a, Vector256<float> b) => a / b;

    public static Vector256<float> Sqrt(Vector256<float> a) => Vector256.Sqrt(a);

    public static Vector256<float> Max(Vector256<float> a, Vector256<float> b) => Vector256.MaxNative(a, b);

    public static Vector256<float> Abs(Vector256<float> a) => Vector256.Abs(a);

    public static Vector256<float> CopySign(Vector256<float> value, Vector256<float> sign) => Vector256.CopySign(value, sign);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x) => Exp2(x * Vector256.Create(ExpConstants.Log2E));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp2(Vector256<float> t)
    {
        if (Avx512DQ.VL.IsSupported)
        {
            // 2^t = 2^f 2^floor(t), f = t - floor(t) in [0, 1) by vreduceps (exact), 2^f by the Q polynomial
            // (1.75 ulp), times 2^floor(t) by vscalefps (Exp rounds t = x log2(e) once, so its relative error grows
            // as |x| 6e-8: nothing near the max, where the mass is), which gives denormals below e^-87.3, 0 below e^-103.9 and
            // for -inf (vreduceps gives 0 there), inf for +inf and NaN for NaN: no select needed.
            var g = Avx512DQ.VL.Reduce(t, ExpConstants.FractionBelow);
            var q = Vector256.FusedMultiplyAdd(Vector256.Create(ExpConstants.Q5), g, Vector256.Create(ExpConstants.Q4));
            q = Vector256.FusedMultiplyAdd(q, g, Vector256.Create(ExpConstants.Q3));
            q = Vector256.FusedMultiplyAdd(q, g, Vector256.Create(ExpConstants.Q2));
            q = Vector256.FusedMultiplyAdd(q, g, Vector256.Create(ExpConstants.Q1));
            q = Vector256.FusedMultiplyAdd(q, g, Vector256<float>.One);
            return Avx512F.VL.Scale(q, t);
        }

        // Without AVX-512: 2^t = 2^n 2^f with n = round(t), |f| <= 1/2; 2^f by a degree-5 polynomial (fitted for
        // this project, 1.9 ulp); 2^n built in the exponent bits. Lanes below 2^-125.5 (e^-87) give 0 (2^n would
        // need denormals); NaN stays NaN through the multiplications.
        var n = Vector256.Round(t);
        var f = t - n;
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(ExpConstants.P5), f, Vector256.Create(ExpConstants.P4));
        p = Vector256.FusedMultiplyAdd(p, f, Vector256.Create(ExpConstants.P3));
        p = Vector256.FusedMultiplyAdd(p, f, Vector256.Create(ExpConstants.P2));
        p = Vector256.FusedMultiplyAdd(p, f, Vector256.Create(ExpConstants.P1));
        p = Vector256.FusedMultiplyAdd(p, f, Vector256<float>.One);
        Vector256<float> e;
        if (Avx512F.VL.IsSupported)
        {
            // vscalefps: p 2^n in one instruction, the same value as building 2^n in the exponent bits.
            e = Avx512F.VL.Scale(p, n);
        }
        else
        {
            // n is already whole: the native (unchecked) conversion is exact, and lanes where it is not (-inf,
            // NaN) are replaced below or stay NaN through p.
            var scale = Vector256.ShiftLeft(Vector256.ConvertToInt32Native(n) + Vector256.Create(127), 23).AsSingle();
            e = p * scale;
        }

        return Vector256.ConditionalSelect(Vector256.LessThan(t, Vector256.Create(ExpConstants.LowestPowerOfTwo)), Vector256<float>.Zero, e);
    }

    public static Vector256<float> LessThan(Vector256<float> a, Vector256<float> b) => Vector256.LessThan(a, b);

    public static bool AllLessThan(Vector256<float> a, Vector256<float> b) => Vector256.LessThanAll(a, b);

    public static Vector256<float> Select(Vector256<float> mask, Vector256<float> a, Vector256<float> b) => Vector256.ConditionalSelect(mask, a, b);

    public static Vector256<float> KeepFrom(Vector256<float> value, int firstLane) =>
        value & Vector256.GreaterThanOrEqual(Vector256<int>.Indices, Vector256.Create(firstLane)).AsSingle();

    public static float Sum(Vector256<float> value) => Vector256.Sum(value);

    public static float MaxAcross(Vector256<float> value) => Vector128Ops.MaxAcross(Vector128.MaxNative(value.GetLower(), value.GetUpper()));
}
