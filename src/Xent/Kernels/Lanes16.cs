using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Xent.Kernels;

/// <summary>
/// 16-bit results held in the low halves of 32-bit lanes (each lane at most 0xFFFF), stored as ushorts in lane
/// order: how the bfloat16 and Half lanes write what they rounded.
/// </summary>
internal static class Lanes16
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<uint> lanes, ref byte destination, nint index) =>
        Narrow(lanes).StoreUnsafe(ref Unsafe.As<byte, ushort>(ref destination), (nuint)index);

    /// <summary>As <see cref="Store(Vector512{uint}, ref byte, nint)"/>, non-temporal (the address aligned to 32 bytes, pinned).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void StoreNonTemporal(Vector512<uint> lanes, ref byte destination, nint index) =>
        Narrow(lanes).StoreAlignedNonTemporal((ushort*)Unsafe.AsPointer(ref Unsafe.Add(ref destination, index * 2)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<uint> lanes, ref byte destination, nint index) =>
        Narrow(lanes).StoreUnsafe(ref Unsafe.As<byte, ushort>(ref destination), (nuint)index);

    /// <summary>As <see cref="Store(Vector256{uint}, ref byte, nint)"/>, non-temporal (the address aligned to 16 bytes, pinned).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void StoreNonTemporal(Vector256<uint> lanes, ref byte destination, nint index) =>
        Narrow(lanes).StoreAlignedNonTemporal((ushort*)Unsafe.AsPointer(ref Unsafe.Add(ref destination, index * 2)));

    /// <summary>Four lanes are 64 bits: stored as one ulong, so that nothing past the fourth is written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector128<uint> lanes, ref byte destination, nint index)
    {
        var bits = Sse41.IsSupported && !Avx512F.VL.IsSupported ? Sse41.PackUnsignedSaturate(lanes.AsInt32(), lanes.AsInt32()) : Vector128.Narrow(lanes, lanes);
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref destination, index * 2), bits.AsUInt64().ToScalar());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ushort> Narrow(Vector512<uint> lanes) =>
        Avx512F.IsSupported ? Avx512F.ConvertToVector256UInt16(lanes) : Vector256.Narrow(lanes.GetLower(), lanes.GetUpper());

    /// <remarks>Without AVX-512's vpmovdw, the saturating pack: the lanes fit in 16 bits, so it is the truncation Narrow asks for, without its two masks.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<ushort> Narrow(Vector256<uint> lanes) =>
        Avx512F.VL.IsSupported ? Avx512F.VL.ConvertToVector128UInt16(lanes)
        : Sse41.IsSupported ? Sse41.PackUnsignedSaturate(lanes.GetLower().AsInt32(), lanes.GetUpper().AsInt32())
        : Vector128.Narrow(lanes.GetLower(), lanes.GetUpper());
}
