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
    public static void Store(Vector512<float> value, ref byte destination, nint index) => Lanes16.Store(BFloat16.Round(value.AsUInt32()), ref destination, index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreNonTemporal(Vector512<float> value, ref byte destination, nint index) => Lanes16.StoreNonTemporal(BFloat16.Round(value.AsUInt32()), ref destination, index);
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
    public static void Store(Vector256<float> value, ref byte destination, nint index) => Lanes16.Store(BFloat16.Round(value.AsUInt32()), ref destination, index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreNonTemporal(Vector256<float> value, ref byte destination, nint index) => Lanes16.StoreNonTemporal(BFloat16.Round(value.AsUInt32()), ref destination, index);
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
    public static void Store(Vector128<float> value, ref byte destination, nint index) => Lanes16.Store(BFloat16.Round(value.AsUInt32()), ref destination, index);

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
