using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Xent.Kernels;

/// <summary>128-bit lanes (SSE, AdvSimd).</summary>
internal readonly struct Vector128Ops : IVectorOps<Vector128<float>>
{
    public static int Count => Vector128<float>.Count;

    public static Vector128<float> Create(float value) => Vector128.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Load(ref float source, nint index) => Vector128.LoadUnsafe(ref source, (nuint)index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector128<float> value, ref float destination, nint index) => value.StoreUnsafe(ref destination, (nuint)index);

    public static Vector128<float> Add(Vector128<float> a, Vector128<float> b) => a + b;

    public static Vector128<float> Subtract(Vector128<float> a, Vector128<float> b) => a - b;

    public static Vector128<float> Multiply(Vector128<float> a, Vector128<float> b) => a * b;

    public static Vector128<float> MultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Vector128.FusedMultiplyAdd(a, b, c);

    public static Vector128<float> Divide(Vector128<float> a, Vector128<float> b) => a / b;

    public static Vector128<float> Sqrt(Vector128<float> a) => Vector128.Sqrt(a);

    public static Vector128<float> Max(Vector128<float> a, Vector128<float> b) => Vector128.MaxNative(a, b);

    public static Vector128<float> Abs(Vector128<float> a) => Vector128.Abs(a);

    public static Vector128<float> CopySign(Vector128<float> value, Vector128<float> sign) => Vector128.CopySign(value, sign);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Exp(Vector128<float> x)
    {
        // e^x = 2^t, t = x log2(e) = n + f with n = round(t), |f| <= 1/2; 2^f by a degree-5 polynomial (fitted
        // for this project, 1.9 ulp); 2^n built in the exponent bits. t is rounded once, so the relative error
        // grows as |x| 6e-8: nothing at the values that matter (near the max), 5e-6 at e^-87 ~ 1e-38. Lanes
        // below -87 give 0 (2^n would need denormals); NaN stays NaN through the multiplications.
        var t = x * Vector128.Create(ExpConstants.Log2E);
        var n = Vector128.Round(t);
        var f = t - n;
        var p = Vector128.FusedMultiplyAdd(Vector128.Create(ExpConstants.P5), f, Vector128.Create(ExpConstants.P4));
        p = Vector128.FusedMultiplyAdd(p, f, Vector128.Create(ExpConstants.P3));
        p = Vector128.FusedMultiplyAdd(p, f, Vector128.Create(ExpConstants.P2));
        p = Vector128.FusedMultiplyAdd(p, f, Vector128.Create(ExpConstants.P1));
        p = Vector128.FusedMultiplyAdd(p, f, Vector128<float>.One);
        Vector128<float> e;
        if (Avx512F.VL.IsSupported)
        {
            // vscalefps: p 2^n in one instruction, the same value as building 2^n in the exponent bits.
            e = Avx512F.VL.Scale(p, n);
        }
        else
        {
            // n is already whole: the native (unchecked) conversion is exact, and lanes where it is not (-inf,
            // NaN) are replaced below or stay NaN through p.
            var scale = Vector128.ShiftLeft(Vector128.ConvertToInt32Native(n) + Vector128.Create(127), 23).AsSingle();
            e = p * scale;
        }

        return Vector128.ConditionalSelect(Vector128.LessThan(x, Vector128.Create(ExpConstants.Lowest)), Vector128<float>.Zero, e);
    }

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
