using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

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

    public static Vector256<float> Max(Vector256<float> a, Vector256<float> b) => Vector256.MaxNative(a, b);

    public static Vector256<float> Abs(Vector256<float> a) => Vector256.Abs(a);

    public static Vector256<float> CopySign(Vector256<float> value, Vector256<float> sign) => Vector256.CopySign(value, sign);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        // x = n ln2 + r, |r| <= ln2 / 2 (ln2 split in two so that n * hi is exact); e^r by its Taylor polynomial
        // of degree 6 (error < 2e-7 on that range); 2^n built in the exponent bits. Lanes below -87 give 0
        // (p ~ 1e-38 there; 2^n would need denormals); NaN stays NaN through the multiplications.
        var n = Vector256.Round(x * Vector256.Create(ExpConstants.Log2E));
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-ExpConstants.Ln2High), x);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-ExpConstants.Ln2Low), r);
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(ExpConstants.C6), r, Vector256.Create(ExpConstants.C5));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(ExpConstants.C4));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(ExpConstants.C3));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(0.5f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<float>.One);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<float>.One);
        var scale = Vector256.ShiftLeft(Vector256.ConvertToInt32(n) + Vector256.Create(127), 23).AsSingle();
        return Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256.Create(ExpConstants.Lowest)), Vector256<float>.Zero, p * scale);
    }

    public static Vector256<float> LessThan(Vector256<float> a, Vector256<float> b) => Vector256.LessThan(a, b);

    public static Vector256<float> Select(Vector256<float> mask, Vector256<float> a, Vector256<float> b) => Vector256.ConditionalSelect(mask, a, b);

    public static Vector256<float> KeepFrom(Vector256<float> value, int firstLane) =>
        value & Vector256.GreaterThanOrEqual(Vector256<int>.Indices, Vector256.Create(firstLane)).AsSingle();

    public static float Sum(Vector256<float> value) => Vector256.Sum(value);

    public static float MaxAcross(Vector256<float> value) => Vector128Ops.MaxAcross(Vector128.MaxNative(value.GetLower(), value.GetUpper()));
}
