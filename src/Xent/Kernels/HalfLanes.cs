using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Xent.Kernels;

/// <summary>
/// IEEE half-precision bits and float lanes, converted in registers both ways exactly as Half's conversions do.
/// Widening is from the bits
/// sign-extended to 32 (vpmovsxwd): shifted 13 left and masked, they are the half's sign, exponent and mantissa in a
/// float's places, which is a float 2^-112 times the half's value (a denormal for subnormal halves), so the product
/// with 2^112 is exact, subnormals and zeros included; infinities and NaNs (exponent 31, 143 after the product) get
/// the top exponent ORed in, payload kept. 7 instructions after the load, where selecting between a rebias, an
/// infinity rebias and a subnormal subtraction took 12 (Half Loss, one Zen 5 core, block in L1: 0.287 -&gt; 0.242 ns
/// per element at 256 bits with AVX-512, 0.352 -&gt; 0.285 with AVX2 only).
/// </summary>
internal static class HalfBits
{
    private const int Fields = unchecked((int)0x8FFF_E000); // the sign, and the 15 bits below it moved up 13
    private const int Exponent = 0x7C00;                    // of the half's bits: all ones for infinity and NaN
    private const int FloatExponent = 0x7F80_0000;
    private const float TwoTo112 = 5.192296858534828e+33f;  // 2^(127 - 15)

    /// <summary>
    /// Float lanes rounded to half bits (in the low 16 bits of each lane) exactly as the float -&gt; Half conversion
    /// rounds, for every one of the 2^32 float patterns (checked exhaustively when written): normal halves by adding
    /// half an ulp (less one, plus the last kept bit: ties to even) to the magnitude's bits and shifting out 13, the
    /// rebias folded into the same add, magnitudes from 65536 first lowered to it so they come out as infinity (the
    /// kept bit may be taken before: 65536's is 0, and either adds up to 0x7C00); subnormal halves by a float add of
    /// 0.5, which rounds to the subnormal step in hardware; NaNs as the conversion gives them, quiet with the payload's
    /// top 10 bits, in a branch that only a vector with a NaN lane takes: its test is one compare, where the select and
    /// its constants cost three instructions and, with AVX2's 16 registers, spills (Half LossAndGradient in place, one
    /// Zen 4 core: 0.705-0.738 -&gt; 0.570-0.574 ns per logit with AVX2 only, 0.96x at 256 and 512 bits). Applied as
    /// the gradient is stored, where <see cref="System.Numerics.Tensors.TensorPrimitives.ConvertToHalf"/> took a float
    /// copy in scratch and a pass of its own.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<uint> Narrow(Vector512<float> x)
    {
        var bits = x.AsInt32();
        var m = bits & Vector512.Create(Magnitude);
        var kept = Vector512.ShiftRightLogical(m, 13);
        var c = Vector512.Min(m, Vector512.Create(Overflow));
        var normal = Vector512.ShiftRightLogical(c + Vector512.Create(Rebias) + (kept & Vector512<int>.One), 13);
        var step = Vector512.Create(SubnormalStep);
        var subnormal = (m.AsSingle() + step).AsInt32() - step.AsInt32();
        var rounded = Vector512.ConditionalSelect(Vector512.LessThan(m, Vector512.Create(MinNormal)), subnormal, normal);
        if (Vector512.GreaterThanAny(m, Vector512.Create(FloatInfinity)))
        {
            rounded = Vector512.ConditionalSelect(Vector512.GreaterThan(m, Vector512.Create(FloatInfinity)), Vector512.Create(QuietNaN) | (kept & Vector512.Create(Payload)), rounded);
        }

        return (rounded | Vector512.ShiftRightLogical(bits ^ m, 16)).AsUInt32();
    }

    /// <summary>As the 512-bit narrowing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<uint> Narrow(Vector256<float> x)
    {
        var bits = x.AsInt32();
        var m = bits & Vector256.Create(Magnitude);
        var kept = Vector256.ShiftRightLogical(m, 13);
        var c = Vector256.Min(m, Vector256.Create(Overflow));
        var normal = Vector256.ShiftRightLogical(c + Vector256.Create(Rebias) + (kept & Vector256<int>.One), 13);
        var step = Vector256.Create(SubnormalStep);
        var subnormal = (m.AsSingle() + step).AsInt32() - step.AsInt32();
        var rounded = Vector256.ConditionalSelect(Vector256.LessThan(m, Vector256.Create(MinNormal)), subnormal, normal);
        if (Vector256.GreaterThanAny(m, Vector256.Create(FloatInfinity)))
        {
            rounded = Vector256.ConditionalSelect(Vector256.GreaterThan(m, Vector256.Create(FloatInfinity)), Vector256.Create(QuietNaN) | (kept & Vector256.Create(Payload)), rounded);
        }

        return (rounded | Vector256.ShiftRightLogical(bits ^ m, 16)).AsUInt32();
    }

    /// <summary>As the 512-bit narrowing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<uint> Narrow(Vector128<float> x)
    {
        var bits = x.AsInt32();
        var m = bits & Vector128.Create(Magnitude);
        var kept = Vector128.ShiftRightLogical(m, 13);
        var c = Vector128.Min(m, Vector128.Create(Overflow));
        var normal = Vector128.ShiftRightLogical(c + Vector128.Create(Rebias) + (kept & Vector128<int>.One), 13);
        var step = Vector128.Create(SubnormalStep);
        var subnormal = (m.AsSingle() + step).AsInt32() - step.AsInt32();
        var rounded = Vector128.ConditionalSelect(Vector128.LessThan(m, Vector128.Create(MinNormal)), subnormal, normal);
        if (Vector128.GreaterThanAny(m, Vector128.Create(FloatInfinity)))
        {
            rounded = Vector128.ConditionalSelect(Vector128.GreaterThan(m, Vector128.Create(FloatInfinity)), Vector128.Create(QuietNaN) | (kept & Vector128.Create(Payload)), rounded);
        }

        return (rounded | Vector128.ShiftRightLogical(bits ^ m, 16)).AsUInt32();
    }

    // Narrowing (float -> half bits), on the float's magnitude bits m:
    private const int Magnitude = 0x7FFF_FFFF;
    private const int Overflow = 0x4780_0000;              // 65536: every magnitude from here rounds to infinity (0x7C00)
    private const int Rebias = 0xFFF - 0x3800_0000;        // half an ulp less one, less (127 - 15) << 23
    private const int MinNormal = 0x3880_0000;             // 2^-14, the smallest normal half
    private const float SubnormalStep = 0.5f;              // m + 0.5 rounds m to a multiple of 2^-24, the subnormal half's step, less 0.5's bits
    private const int FloatInfinity = 0x7F80_0000;
    private const int QuietNaN = 0x7E00;
    private const int Payload = 0x3FF;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Widen(Vector512<int> h)
    {
        var scaled = (Vector512.ShiftLeft(h, 13) & Vector512.Create(Fields)).AsSingle() * Vector512.Create(TwoTo112);
        var special = Vector512.Equals(h & Vector512.Create(Exponent), Vector512.Create(Exponent));
        return scaled | (special & Vector512.Create(FloatExponent)).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Widen(Vector256<int> h)
    {
        var scaled = (Vector256.ShiftLeft(h, 13) & Vector256.Create(Fields)).AsSingle() * Vector256.Create(TwoTo112);
        var special = Vector256.Equals(h & Vector256.Create(Exponent), Vector256.Create(Exponent));
        return scaled | (special & Vector256.Create(FloatExponent)).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Widen(Vector128<int> h)
    {
        var scaled = (Vector128.ShiftLeft(h, 13) & Vector128.Create(Fields)).AsSingle() * Vector128.Create(TwoTo112);
        var special = Vector128.Equals(h & Vector128.Create(Exponent), Vector128.Create(Exponent));
        return scaled | (special & Vector128.Create(FloatExponent)).AsSingle();
    }
}

/// <summary>Half logits, 16 to a 512-bit vector: sign-extended, then <see cref="HalfBits"/>.</summary>
internal readonly struct HalfLanes512 : IWritableLanes<Vector512<float>>
{
    public static int ElementSize => 2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Element(ref byte source, nint index) => (float)Unsafe.Add(ref Unsafe.As<byte, Half>(ref source), index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load(ref byte source, nint index)
    {
        var bits = Vector256.LoadUnsafe(ref Unsafe.As<byte, short>(ref source), (nuint)index);
        return HalfBits.Widen(Avx512F.IsSupported ? Avx512F.ConvertToVector512Int32(bits) : Vector512.Create(Vector256.WidenLower(bits), Vector256.WidenUpper(bits)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<float> value, ref byte destination, nint index) => Lanes16.Store(HalfBits.Narrow(value), ref destination, index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreNonTemporal(Vector512<float> value, ref byte destination, nint index) => Lanes16.StoreNonTemporal(HalfBits.Narrow(value), ref destination, index);
}

/// <summary>Half logits, 8 to a 256-bit vector.</summary>
internal readonly struct HalfLanes256 : IWritableLanes<Vector256<float>>
{
    public static int ElementSize => 2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Element(ref byte source, nint index) => (float)Unsafe.Add(ref Unsafe.As<byte, Half>(ref source), index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(ref byte source, nint index)
    {
        var bits = Vector128.LoadUnsafe(ref Unsafe.As<byte, short>(ref source), (nuint)index);
        return HalfBits.Widen(Avx2.IsSupported ? Avx2.ConvertToVector256Int32(bits) : Vector256.Create(Vector128.WidenLower(bits), Vector128.WidenUpper(bits)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<float> value, ref byte destination, nint index) => Lanes16.Store(HalfBits.Narrow(value), ref destination, index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreNonTemporal(Vector256<float> value, ref byte destination, nint index) => Lanes16.StoreNonTemporal(HalfBits.Narrow(value), ref destination, index);
}

/// <summary>Half logits, 4 to a 128-bit vector.</summary>
internal readonly struct HalfLanes128 : IWritableLanes<Vector128<float>>
{
    public static int ElementSize => 2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Element(ref byte source, nint index) => (float)Unsafe.Add(ref Unsafe.As<byte, Half>(ref source), index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Load(ref byte source, nint index)
    {
        ulong four = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref source, index * 2));
        var bits = Vector128.CreateScalarUnsafe(four).AsInt16();
        return HalfBits.Widen(Sse41.IsSupported ? Sse41.ConvertToVector128Int32(bits) : Vector128.WidenLower(bits));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector128<float> value, ref byte destination, nint index) => Lanes16.Store(HalfBits.Narrow(value), ref destination, index);

    /// <summary>An ordinary store: 8 bytes have no vector streaming store (the kernels do not stream this width).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreNonTemporal(Vector128<float> value, ref byte destination, nint index) => Store(value, ref destination, index);
}

/// <summary>Half logits one at a time (the scalar fallback): the conversions themselves.</summary>
internal readonly struct HalfLanes1 : IWritableLanes<float>
{
    public static int ElementSize => 2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Element(ref byte source, nint index) => (float)Unsafe.Add(ref Unsafe.As<byte, Half>(ref source), index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load(ref byte source, nint index) => Element(ref source, index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(float value, ref byte destination, nint index) => Unsafe.Add(ref Unsafe.As<byte, Half>(ref destination), index) = (Half)value;

    /// <summary>An ordinary store (one lane is never streamed).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreNonTemporal(float value, ref byte destination, nint index) => Store(value, ref destination, index);
}
