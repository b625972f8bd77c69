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

    /// <summary>The logits at elements index .. index + lanes - 1 after <paramref name="source"/>, as floats.</summary>
    static abstract TV Load(ref byte source, nint index);

    /// <summary>Writes the lanes to elements index .. index + lanes - 1 after <paramref name="destination"/>.</summary>
    static abstract void Store(TV value, ref byte destination, nint index);
}

/// <summary>Float logits: the width's own load.</summary>
internal readonly struct SingleLanes<TOps, TV> : ILogitLanes<TV>
    where TOps : struct, IVectorOps<TV>
    where TV : struct
{
    public static int ElementSize => sizeof(float);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Load(ref byte source, nint index) => TOps.Load(ref Unsafe.As<byte, float>(ref source), index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(TV value, ref byte destination, nint index) => TOps.Store(value, ref Unsafe.As<byte, float>(ref destination), index);
}

/// <summary>
/// bfloat16 logits, 16 to a 512-bit vector: the bits zero-extended to 32 (one vpmovzxwd from memory) and shifted
/// into the float's high half, which is the exact float value (NaN payloads and subnormals included).
/// </summary>
internal readonly struct BFloat16Lanes512 : ILogitLanes<Vector512<float>>
{
    public static int ElementSize => 2;

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
}

/// <summary>bfloat16 logits, 8 to a 256-bit vector (see <see cref="BFloat16Lanes512"/>).</summary>
internal readonly struct BFloat16Lanes256 : ILogitLanes<Vector256<float>>
{
    public static int ElementSize => 2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(ref byte source, nint index)
    {
        var bits = Vector128.LoadUnsafe(ref Unsafe.As<byte, ushort>(ref source), (nuint)index);
        var wide = Avx2.IsSupported
            ? Avx2.ConvertToVector256Int32(bits).AsUInt32()
            : Vector256.Create(Vector128.WidenLower(bits), Vector128.WidenUpper(bits));
        return Vector256.ShiftLeft(wide, 16).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<float> value, ref byte destination, nint index)
    {
        var rounded = BFloat16.Round(value.AsUInt32());
        var bits = Avx512F.VL.IsSupported ? Avx512F.VL.ConvertToVector128UInt16(rounded) : Vector128.Narrow(rounded.GetLower(), rounded.GetUpper());
        bits.StoreUnsafe(ref Unsafe.As<byte, ushort>(ref destination), (nuint)index);
    }
}

/// <summary>bfloat16 logits, 4 to a 128-bit vector (see <see cref="BFloat16Lanes512"/>).</summary>
internal readonly struct BFloat16Lanes128 : ILogitLanes<Vector128<float>>
{
    public static int ElementSize => 2;

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
        ulong four = Vector128.Narrow(rounded, rounded).AsUInt64().ToScalar();
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref destination, index * 2), four);
    }
}

/// <summary>bfloat16 logits one at a time (the scalar fallback).</summary>
internal readonly struct BFloat16Lanes1 : ILogitLanes<float>
{
    public static int ElementSize => 2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load(ref byte source, nint index) =>
        BitConverter.Int32BitsToSingle(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref source, index * 2)) << 16);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(float value, ref byte destination, nint index) =>
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref destination, index * 2), ((BFloat16)value).Bits);
}
