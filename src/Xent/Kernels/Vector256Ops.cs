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
    public static Vector256<float> Exp(Vector256<float> x)
    {
        // e^x = 2^t, t = x log2(e) = n + f with n = round(t), |f| <= 1/2; 2^f by a degree-5 polynomial (fitted
        // for this project, 1.9 ulp); 2^n built in the exponent bits. t is rounded once, so the relative error
        // grows as |x| 6e-8: nothing at the values that matter (near the max), 5e-6 at e^-87 ~ 1e-38. Lanes
        // below -87 give 0 (2^n would need denormals); NaN stays NaN through the multiplications.
        var t = x * Vector256.Create(ExpConstants.Log2E);
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

        return Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256.Create(ExpConstants.Lowest)), Vector256<float>.Zero, e);
    }

    public static Vector256<float> LessThan(Vector256<float> a, Vector256<float> b) => Vector256.LessThan(a, b);

    public static bool AllLessThan(Vector256<float> a, Vector256<float> b) => Vector256.LessThanAll(a, b);

    public static Vector256<float> Select(Vector256<float> mask, Vector256<float> a, Vector256<float> b) => Vector256.ConditionalSelect(mask, a, b);

    public static Vector256<float> KeepFrom(Vector256<float> value, int firstLane) =>
        value & Vector256.GreaterThanOrEqual(Vector256<int>.Indices, Vector256.Create(firstLane)).AsSingle();

    public static float Sum(Vector256<float> value) => Vector256.Sum(value);

    public static float MaxAcross(Vector256<float> value) => Vector128Ops.MaxAcross(Vector128.MaxNative(value.GetLower(), value.GetUpper()));
}
