using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Xent.Kernels;

/// <summary>
/// How a kernel reads one vector of logits from memory into float lanes, whatever they are stored as: float lanes
/// load as they are, bfloat16 lanes are widened in registers (exactly, in lane order), so a 16-bit input is read
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
}

/// <summary>Float logits: the width's own load.</summary>
internal readonly struct SingleLanes<TOps, TV> : ILogitLanes<TV>
    where TOps : struct, IVectorOps<TV>
    where TV : struct
{
    public static int ElementSize => sizeof(float);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Load(ref byte source, nint index) => TOps.Load(ref Unsafe.As<byte, float>(ref source), index);
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
}
