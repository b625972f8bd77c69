using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Xent.Kernels;

/// <summary>One lane: the scalar fallback, running the same generic kernels as the vector widths.</summary>
internal readonly struct ScalarOps : IVectorOps<float>
{
    private const float AllOnes = float.NaN; // any non-zero bit pattern marks a selected lane

    public static int Count => 1;

    public static float Create(float value) => value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load(ref float source, nint index) => Unsafe.Add(ref source, index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(float value, ref float destination, nint index) => Unsafe.Add(ref destination, index) = value;

    /// <summary>An ordinary store: one lane has no streaming form worth having.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreNonTemporal(float value, ref float destination, nint index) => Unsafe.Add(ref destination, index) = value;

    public static float Add(float a, float b) => a + b;

    public static float Subtract(float a, float b) => a - b;

    public static float Multiply(float a, float b) => a * b;

    /// <summary>Fused where <see cref="Simd.FusedMultiplyAddIsHardware"/>, else a product and a sum.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MultiplyAdd(float a, float b, float c) =>
        Fma.IsSupported || AdvSimd.IsSupported ? MathF.FusedMultiplyAdd(a, b, c) : (a * b) + c;

    public static float Divide(float a, float b) => a / b;

    public static float Sqrt(float a) => MathF.Sqrt(a);

    public static float Max(float a, float b) => MathF.Max(a, b);

    public static float Abs(float a) => MathF.Abs(a);

    public static float CopySign(float value, float sign) => MathF.CopySign(value, sign);

    public static float Exp(float x) => MathF.Exp(x);

    public static float Exp2(float t) => float.Exp2(t);

    public static void Exp4(ref float a, ref float b, ref float c, ref float d)
    {
        a = MathF.Exp(a);
        b = MathF.Exp(b);
        c = MathF.Exp(c);
        d = MathF.Exp(d);
    }

    public static float LessThan(float a, float b) => a < b ? AllOnes : 0f;

    public static bool AllLessThan(float a, float b) => a < b;

    public static float Select(float mask, float a, float b) => BitConverter.SingleToInt32Bits(mask) != 0 ? a : b;

    public static float KeepFrom(float value, int firstLane) => firstLane <= 0 ? value : 0f;

    public static float Sum(float value) => value;

    public static double SumWide(float value) => value;

    public static double SumWide(float a, float b) => (double)a + b;

    public static float MaxAcross(float value) => value;
}
