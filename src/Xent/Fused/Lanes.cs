using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Xent.Kernels;

namespace Xent.Fused;

/// <summary>
/// The vector operations the fused epilogues need, as static abstract members so that one generic epilogue is
/// compiled separately (and fully inlined) for each width: <typeparamref name="TV"/> is Vector512/256/128 of float,
/// or float itself for the scalar path. Exp and tanh are the core kernel's (Kernels/), so a logit gets the same
/// soft cap and the same exponential here as in <see cref="CrossEntropy"/>.
/// </summary>
/// <typeparam name="TV">The vector type.</typeparam>
internal unsafe interface ILanes<TV>
    where TV : struct
{
    /// <summary>Floats per vector.</summary>
    static abstract int Count { get; }

    static abstract TV Load(float* p);

    static abstract void Store(TV x, float* p);

    static abstract TV Create(float x);

    static abstract TV Add(TV x, TV y);

    static abstract TV Subtract(TV x, TV y);

    static abstract TV Multiply(TV x, TV y);

    /// <summary>x * y + z with one rounding.</summary>
    static abstract TV Fma(TV x, TV y, TV z);

    /// <summary>Maximum in the hardware's way (NaN handling unspecified: NaN reaches the result through the sum).</summary>
    static abstract TV Max(TV x, TV y);

    static abstract TV Exp(TV x);

    static abstract TV Tanh(TV x);

    /// <summary>0 where x is -inf, else x: the reference point of exp when every value so far is -inf.</summary>
    static abstract TV ZeroIfNegativeInfinity(TV x);

    /// <summary>Bitwise and with a mask of all-ones or all-zeros lanes: zeroes masked-out lanes, NaN included.</summary>
    static abstract TV And(TV x, TV mask);

    /// <summary>Whether some lane has |x| &gt;= threshold or is NaN.</summary>
    static abstract bool AnyNotBelow(TV x, TV threshold);

    /// <summary>Sum of the lanes in a fixed order.</summary>
    static abstract float Sum(TV x);
}

/// <summary>Vector512 lanes.</summary>
internal readonly unsafe struct Lanes512 : ILanes<Vector512<float>>
{
    public static int Count => 16;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load(float* p) => Vector512.Load(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<float> x, float* p) => x.Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Create(float x) => Vector512.Create(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Add(Vector512<float> x, Vector512<float> y) => x + y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Subtract(Vector512<float> x, Vector512<float> y) => x - y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Multiply(Vector512<float> x, Vector512<float> y) => x * y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Fma(Vector512<float> x, Vector512<float> y, Vector512<float> z) => Vector512.FusedMultiplyAdd(x, y, z);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Max(Vector512<float> x, Vector512<float> y) => Vector512.MaxNative(x, y);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x) => Vector512Ops.Exp(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Tanh(Vector512<float> x) => VectorMath.Tanh<Vector512Ops, Vector512<float>>(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ZeroIfNegativeInfinity(Vector512<float> x) =>
        Vector512.ConditionalSelect(Vector512.Equals(x, Vector512.Create(float.NegativeInfinity)), Vector512<float>.Zero, x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> And(Vector512<float> x, Vector512<float> mask) => x & mask;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool AnyNotBelow(Vector512<float> x, Vector512<float> threshold) => !Vector512.LessThanAll(Vector512.Abs(x), threshold);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector512<float> x) => Vector512.Sum(x);
}

/// <summary>Vector256 lanes.</summary>
internal readonly unsafe struct Lanes256 : ILanes<Vector256<float>>
{
    public static int Count => 8;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(float* p) => Vector256.Load(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<float> x, float* p) => x.Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Create(float x) => Vector256.Create(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Add(Vector256<float> x, Vector256<float> y) => x + y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Subtract(Vector256<float> x, Vector256<float> y) => x - y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Multiply(Vector256<float> x, Vector256<float> y) => x * y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Fma(Vector256<float> x, Vector256<float> y, Vector256<float> z) => Vector256.FusedMultiplyAdd(x, y, z);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Max(Vector256<float> x, Vector256<float> y) => Vector256.MaxNative(x, y);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x) => Vector256Ops.Exp(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Tanh(Vector256<float> x) => VectorMath.Tanh<Vector256Ops, Vector256<float>>(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ZeroIfNegativeInfinity(Vector256<float> x) =>
        Vector256.ConditionalSelect(Vector256.Equals(x, Vector256.Create(float.NegativeInfinity)), Vector256<float>.Zero, x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> And(Vector256<float> x, Vector256<float> mask) => x & mask;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool AnyNotBelow(Vector256<float> x, Vector256<float> threshold) => !Vector256.LessThanAll(Vector256.Abs(x), threshold);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector256<float> x) => Vector256.Sum(x);
}

/// <summary>Vector128 lanes.</summary>
internal readonly unsafe struct Lanes128 : ILanes<Vector128<float>>
{
    public static int Count => 4;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Load(float* p) => Vector128.Load(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector128<float> x, float* p) => x.Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Create(float x) => Vector128.Create(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Add(Vector128<float> x, Vector128<float> y) => x + y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Subtract(Vector128<float> x, Vector128<float> y) => x - y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Multiply(Vector128<float> x, Vector128<float> y) => x * y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Fma(Vector128<float> x, Vector128<float> y, Vector128<float> z) => Vector128.FusedMultiplyAdd(x, y, z);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Max(Vector128<float> x, Vector128<float> y) => Vector128.MaxNative(x, y);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Exp(Vector128<float> x) => Vector128Ops.Exp(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Tanh(Vector128<float> x) => VectorMath.Tanh<Vector128Ops, Vector128<float>>(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> ZeroIfNegativeInfinity(Vector128<float> x) =>
        Vector128.ConditionalSelect(Vector128.Equals(x, Vector128.Create(float.NegativeInfinity)), Vector128<float>.Zero, x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> And(Vector128<float> x, Vector128<float> mask) => x & mask;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool AnyNotBelow(Vector128<float> x, Vector128<float> threshold) => !Vector128.LessThanAll(Vector128.Abs(x), threshold);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector128<float> x) => Vector128.Sum(x);
}

/// <summary>One float per "vector": the scalar fallback.</summary>
internal readonly unsafe struct ScalarLanes : ILanes<float>
{
    public static int Count => 1;

    public static float Load(float* p) => *p;

    public static void Store(float x, float* p) => *p = x;

    public static float Create(float x) => x;

    public static float Add(float x, float y) => x + y;

    public static float Subtract(float x, float y) => x - y;

    public static float Multiply(float x, float y) => x * y;

    public static float Fma(float x, float y, float z) => MathF.FusedMultiplyAdd(x, y, z);

    public static float Max(float x, float y) => x > y ? x : y;

    public static float Exp(float x) => MathF.Exp(x);

    public static float Tanh(float x) => VectorMath.Tanh(x);

    public static float ZeroIfNegativeInfinity(float x) => float.IsNegativeInfinity(x) ? 0 : x;

    public static float And(float x, float mask) =>
        BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(x) & BitConverter.SingleToInt32Bits(mask));

    public static bool AnyNotBelow(float x, float threshold) => !(MathF.Abs(x) < threshold);

    public static float Sum(float x) => x;
}
