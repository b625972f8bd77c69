using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

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

    public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;

    public static Vector512<float> Subtract(Vector512<float> a, Vector512<float> b) => a - b;

    public static Vector512<float> Multiply(Vector512<float> a, Vector512<float> b) => a * b;

    public static Vector512<float> MultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);

    public static Vector512<float> Divide(Vector512<float> a, Vector512<float> b) => a / b;

    public static Vector512<float> Max(Vector512<float> a, Vector512<float> b) => Vector512.MaxNative(a, b);

    public static Vector512<float> Abs(Vector512<float> a) => Vector512.Abs(a);

    public static Vector512<float> CopySign(Vector512<float> value, Vector512<float> sign) => Vector512.CopySign(value, sign);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        // x = n ln2 + r, |r| <= ln2 / 2 (ln2 split in two so that n * hi is exact); e^r by its Taylor polynomial
        // of degree 6 (error < 2e-7 on that range); 2^n built in the exponent bits. Lanes below -87 give 0
        // (p ~ 1e-38 there; 2^n would need denormals); NaN stays NaN through the multiplications.
        var n = Vector512.Round(x * Vector512.Create(ExpConstants.Log2E));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-ExpConstants.Ln2High), x);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-ExpConstants.Ln2Low), r);
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(ExpConstants.C6), r, Vector512.Create(ExpConstants.C5));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(ExpConstants.C4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(ExpConstants.C3));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(0.5f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        var scale = Vector512.ShiftLeft(Vector512.ConvertToInt32(n) + Vector512.Create(127), 23).AsSingle();
        return Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512.Create(ExpConstants.Lowest)), Vector512<float>.Zero, p * scale);
    }

    public static Vector512<float> LessThan(Vector512<float> a, Vector512<float> b) => Vector512.LessThan(a, b);

    public static Vector512<float> Select(Vector512<float> mask, Vector512<float> a, Vector512<float> b) => Vector512.ConditionalSelect(mask, a, b);

    public static Vector512<float> KeepFrom(Vector512<float> value, int firstLane) =>
        value & Vector512.GreaterThanOrEqual(Vector512<int>.Indices, Vector512.Create(firstLane)).AsSingle();

    public static float Sum(Vector512<float> value) => Vector512.Sum(value);

    public static float MaxAcross(Vector512<float> value) => Vector256Ops.MaxAcross(Vector256.MaxNative(value.GetLower(), value.GetUpper()));
}
