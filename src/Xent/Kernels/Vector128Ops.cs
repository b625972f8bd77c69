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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Exp2(Vector128<float> t)
    {
        if (Avx512DQ.VL.IsSupported)
        {
            // 2^t = 2^f 2^floor(t), f = t - floor(t) in [0, 1) by vreduceps (exact), 2^f by the Q polynomial
            // (1.75 ulp), times 2^floor(t) by vscalefps (Exp rounds t = x log2(e) once, so its relative error grows
            // as |x| 6e-8: nothing near the max, where the mass is), which gives denormals below e^-87.3, 0 below e^-103.9 and
            // for -inf (vreduceps gives 0 there), inf for +inf and NaN for NaN: no select needed.
            var g = Avx512DQ.VL.Reduce(t, ExpConstants.FractionBelow);
            // Fused without a check: AVX-512 implies FMA (in hardware and in .NET's instruction-set model).
            var q = Vector128.FusedMultiplyAdd(Vector128.Create(ExpConstants.Q5), g, Vector128.Create(ExpConstants.Q4));
            q = Vector128.FusedMultiplyAdd(q, g, Vector128.Create(ExpConstants.Q3));
            q = Vector128.FusedMultiplyAdd(q, g, Vector128.Create(ExpConstants.Q2));
            q = Vector128.FusedMultiplyAdd(q, g, Vector128.Create(ExpConstants.Q1));
            q = Vector128.FusedMultiplyAdd(q, g, Vector128<float>.One);
            return Avx512F.VL.Scale(q, t);
        }

        return Exp2Rounded(t);
    }

    /// <summary>
    /// <see cref="Exp2"/> without AVX-512 (SSE, AdvSimd, and AVX2 where this width serves blocks too short for 256 bits):
    /// the formula of <see cref="Vector256Ops.Exp2Rounded"/>, lane for lane. Internal rather than private so that tests reach it on any machine.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> Exp2Rounded(Vector128<float> t)
    {
        t = Vector128.MaxNative(Vector128.Create(ExpConstants.LowestExponent), t);
        var y = t + Vector128.Create(ExpConstants.RoundingShift);
        var f = t - (y - Vector128.Create(ExpConstants.RoundingShift));
        var p = MultiplyAdd(Vector128.Create(ExpConstants.P5), f, Vector128.Create(ExpConstants.P4));
        p = MultiplyAdd(p, f, Vector128.Create(ExpConstants.P3));
        p = MultiplyAdd(p, f, Vector128.Create(ExpConstants.P2));
        p = MultiplyAdd(p, f, Vector128.Create(ExpConstants.P1));
        p = MultiplyAdd(p, f, Vector128<float>.One);

        return p * Vector128.ShiftLeft(y.AsInt32(), 23).AsSingle();
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
