using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Xent.Kernels;

/// <summary>
/// How a kernel reads one vector of logits from memory into float lanes, and writes float lanes back, whatever the
/// memory holds: float lanes load and store as they are; bfloat16 lanes are widened in registers (exactly, in lane
/// order) and rounded back to nearest even as <see cref="BFloat16"/>'s conversion does, so a 16-bit input is read
/// once, at half the bytes, with no float copy in between.
/// </summary>
/// <typeparam name="TV">The float vector type the lanes land in.</typeparam>
internal interface ILogitLanes<TV>
    where TV : struct
{
    /// <summary>Bytes per stored logit.</summary>
    static abstract int ElementSize { get; }

    /// <summary>The logit at element <paramref name="index"/> after <paramref name="source"/>, as a float.</summary>
    static abstract float Element(ref byte source, nint index);

    /// <summary>The logits at elements index .. index + lanes - 1 after <paramref name="source"/>, as floats (callers pin <paramref name="source"/>: a load may take its address).</summary>
    static abstract TV Load(ref byte source, nint index);
}

/// <summary>Lanes that can also be written back (float, and bfloat16 rounded to nearest even).</summary>
/// <typeparam name="TV">The float vector type.</typeparam>
internal interface IWritableLanes<TV> : ILogitLanes<TV>
    where TV : struct
{
    /// <summary>Writes the lanes to elements index .. index + lanes - 1 after <paramref name="destination"/>.</summary>
    static abstract void Store(TV value, ref byte destination, nint index);

    /// <summary>As <see cref="Store"/>, non-temporal where the width has such a store (address aligned to the stored vector's bytes, pinned).</summary>
    static abstract void StoreNonTemporal(TV value, ref byte destination, nint index);
}

/// <summary>Float logits: the width's own load.</summary>
internal readonly struct SingleLanes<TOps, TV> : IWritableLanes<TV>
    where TOps : struct, IVectorOps<TV>
    where TV : struct
{
    public static int ElementSize => sizeof(float);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Element(ref byte source, nint index) => Unsafe.Add(ref Unsafe.As<byte, float>(ref source), index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Load(ref byte source, nint index) => TOps.Load(ref Unsafe.As<byte, float>(ref source), index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(TV value, ref byte destination, nint index) => TOps.Store(value, ref Unsafe.As<byte, float>(ref destination), index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreNonTemporal(TV value, ref byte destination, nint index) => TOps.StoreNonTemporal(value, ref Unsafe.As<byte, float>(ref destination), index);
}

/// <summary>
/// bfloat16 logits, 16 to a 512-bit vector: the bits zero-extended to 32 (one vpmovzxwd from memory) and shifted
/// into the float's high half, which is the exact float value (NaN payloads and subnormals included).
/// </summary>
internal readonly struct BFloat16Lanes512 : IWritableLanes<Vector512<float>>
{
    public static int ElementSize => 2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Element(ref byte source, nint index) => (float)Unsafe.Add(ref Unsafe.As<byte, BFloat16>(ref source), index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load(ref byte source, nint index)
    {
        var bits = Vector256.LoadUnsafe(ref Unsafe.As<byte, ushort>(ref source), (nuint)index);
        var wide = Avx512F.IsSupported
            ? Avx512F.ConvertToVector512UInt32(bits)
            : Vector512.Create(Vector256.WidenLower(bits), Vector256.WidenUpper(bits));
        return Vector512.ShiftLeft(wide, 16).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<float> value, ref byte destination, nint index)
    {
        var rounded = BFloat16.Round(value.AsUInt32());
        var bits = Avx512F.IsSupported ? Avx512F.ConvertToVector256UInt16(rounded) : Vector256.Narrow(rounded.GetLower(), rounded.GetUpper());
        bits.StoreUnsafe(ref Unsafe.As<byte, ushort>(ref destination), (nuint)index);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void StoreNonTemporal(Vector512<float> value, ref byte destination, nint index)
    {
        var rounded = BFloat16.Round(value.AsUInt32());
        var bits = Avx512F.IsSupported ? Avx512F.ConvertToVector256UInt16(rounded) : Vector256.Narrow(rounded.GetLower(), rounded.GetUpper());
        bits.StoreAlignedNonTemporal((ushort*)Unsafe.AsPointer(ref Unsafe.Add(ref destination, index * 2)));
    }
}

/// <summary>bfloat16 logits, 8 to a 256-bit vector (see <see cref="BFloat16Lanes512"/>).</summary>
internal readonly struct BFloat16Lanes256 : IWritableLanes<Vector256<float>>
{
    public static int ElementSize => 2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Element(ref byte source, nint index) => (float)Unsafe.Add(ref Unsafe.As<byte, BFloat16>(ref source), index);

    /// <remarks>
    /// With AVX2 one vbroadcasti128 from memory (a load, no ALU) and one vpshufb: one instruction per vector, not two
    /// (vpmovzxwd and a shift), which the arithmetic-bound loops at this width notice (bfloat16 forward, one Zen 5
    /// core, block in L1: 0.150 -> 0.141 ns per element). The broadcast takes a pointer: callers pin the source.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector256<float> Load(ref byte source, nint index)
    {
        if (Avx2.IsSupported)
        {
            // Words 0-3 of the low 128-bit half and 4-7 of the high half (both hold the same 16 bytes) into the high
            // halves of the 32-bit lanes, zeros (index 0x80) into the low halves. A constant, not a static field: the
            // field's initialisation check would sit inside the loops.
            var highHalves = Vector256.Create(
                (byte)0x80, 0x80, 0, 1, 0x80, 0x80, 2, 3, 0x80, 0x80, 4, 5, 0x80, 0x80, 6, 7,
                0x80, 0x80, 8, 9, 0x80, 0x80, 10, 11, 0x80, 0x80, 12, 13, 0x80, 0x80, 14, 15);
            var both = Avx2.BroadcastVector128ToVector256((byte*)Unsafe.AsPointer(ref Unsafe.Add(ref source, index * 2)));
            return Avx2.Shuffle(both, highHalves).AsSingle();
        }

        var bits = Vector128.LoadUnsafe(ref Unsafe.As<byte, ushort>(ref source), (nuint)index);
        return Vector256.ShiftLeft(Vector256.Create(Vector128.WidenLower(bits), Vector128.WidenUpper(bits)), 16).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<float> value, ref byte destination, nint index)
    {
        var rounded = BFloat16.Round(value.AsUInt32());
        var bits = Avx512F.VL.IsSupported ? Avx512F.VL.ConvertToVector128UInt16(rounded) : Narrow(rounded);
        bits.StoreUnsafe(ref Unsafe.As<byte, ushort>(ref destination), (nuint)index);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void StoreNonTemporal(Vector256<float> value, ref byte destination, nint index)
    {
        var rounded = BFloat16.Round(value.AsUInt32());
        var bits = Avx512F.VL.IsSupported ? Avx512F.VL.ConvertToVector128UInt16(rounded) : Narrow(rounded);
        bits.StoreAlignedNonTemporal((ushort*)Unsafe.AsPointer(ref Unsafe.Add(ref destination, index * 2)));
    }

    /// <summary>Eight rounded lanes (each at most 0xFFFF) to their low halves, in lane order, without AVX-512's vpmovdw.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<ushort> Narrow(Vector256<uint> rounded) =>
        // The lanes fit in 16 bits, so the saturating pack is the truncation Narrow asks for, without its two masks.
        Sse41.IsSupported
            ? Sse41.PackUnsignedSaturate(rounded.GetLower().AsInt32(), rounded.GetUpper().AsInt32())
            : Vector128.Narrow(rounded.GetLower(), rounded.GetUpper());
}

/// <summary>bfloat16 logits, 4 to a 128-bit vector (see <see cref="BFloat16Lanes512"/>).</summary>
internal readonly struct BFloat16Lanes128 : IWritableLanes<Vector128<float>>
{
    public static int ElementSize => 2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Element(ref byte source, nint index) => (float)Unsafe.Add(ref Unsafe.As<byte, BFloat16>(ref source), index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Load(ref byte source, nint index)
    {
        // Four ushorts are 64 bits: load them as one ulong, so that nothing past the fourth is read.
        ulong four = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref source, index * 2));
        var bits = Vector128.CreateScalarUnsafe(four).AsUInt16();
        var wide = Sse41.IsSupported ? Sse41.ConvertToVector128Int32(bits).AsUInt32() : Vector128.WidenLower(bits);
        return Vector128.ShiftLeft(wide, 16).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector128<float> value, ref byte destination, nint index)
    {
        // Four ushorts are 64 bits: store them as one ulong, so that nothing past the fourth is written.
        var rounded = BFloat16.Round(value.AsUInt32());
        var bits = Sse41.IsSupported && !Avx512F.VL.IsSupported ? Sse41.PackUnsignedSaturate(rounded.AsInt32(), rounded.AsInt32()) : Vector128.Narrow(rounded, rounded);
        ulong four = bits.AsUInt64().ToScalar();
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref destination, index * 2), four);
    }

    /// <summary>An ordinary store: 8 bytes have no vector streaming store (the kernels do not stream this width).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreNonTemporal(Vector128<float> value, ref byte destination, nint index) => Store(value, ref destination, index);
}

/// <summary>bfloat16 logits one at a time (the scalar fallback).</summary>
internal readonly struct BFloat16Lanes1 : IWritableLanes<float>
{
    public static int ElementSize => 2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Element(ref byte source, nint index) => (float)Unsafe.Add(ref Unsafe.As<byte, BFloat16>(ref source), index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load(ref byte source, nint index) =>
        BitConverter.Int32BitsToSingle(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref source, index * 2)) << 16);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(float value, ref byte destination, nint index) =>
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref destination, index * 2), ((BFloat16)value).Bits);

    /// <summary>An ordinary store (one lane is never streamed).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreNonTemporal(float value, ref byte destination, nint index) => Store(value, ref destination, index);
}

/// <summary>
/// IEEE half-precision lanes widened in registers, exactly as the Half -&gt; float conversion, from the bits
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
internal readonly struct HalfLanes512 : ILogitLanes<Vector512<float>>
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
}

/// <summary>Half logits, 8 to a 256-bit vector.</summary>
internal readonly struct HalfLanes256 : ILogitLanes<Vector256<float>>
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
}

/// <summary>Half logits, 4 to a 128-bit vector.</summary>
internal readonly struct HalfLanes128 : ILogitLanes<Vector128<float>>
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
}
