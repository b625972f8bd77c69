using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Xent;

/// <summary>
/// bfloat16, the 16-bit format models train in: a float32 with the low 16 bits of its mantissa cut off (1 sign bit,
/// 8 exponent bits, 7 mantissa bits), so it has float's range and about 3 significant digits. .NET has no such
/// type; this one only stores and converts: arithmetic is done in float.
/// </summary>
/// <remarks>
/// float -&gt; bfloat16 rounds to nearest, ties to even (as PyTorch's <c>tensor.to(torch.bfloat16)</c>), overflows
/// to +-infinity, keeps subnormals and -0, and turns a NaN into a quiet NaN with the same sign (never into an
/// infinity, which cutting the bits of a NaN whose payload sits in the low half would give). bfloat16 -&gt; float is
/// exact. Equality and ordering are numeric, as for <see cref="float"/>: NaN is unequal to itself, -0 equals +0.
/// </remarks>
[StructLayout(LayoutKind.Sequential, Size = 2)]
public readonly struct BFloat16 : IEquatable<BFloat16>, IComparable<BFloat16>, IComparable, IFormattable
{
    private readonly ushort bits;

    private BFloat16(ushort bits) => this.bits = bits;

    /// <summary>Positive infinity.</summary>
    public static BFloat16 PositiveInfinity => new(0x7F80);

    /// <summary>Negative infinity.</summary>
    public static BFloat16 NegativeInfinity => new(0xFF80);

    /// <summary>A quiet NaN (the one float.NaN converts to).</summary>
    public static BFloat16 NaN => (BFloat16)float.NaN;

    /// <summary>The largest finite value, (2 - 2^-7) x 2^127.</summary>
    public static BFloat16 MaxValue => new(0x7F7F);

    /// <summary>The smallest positive value, a subnormal: 2^-133.</summary>
    public static BFloat16 Epsilon => new(0x0001);

    /// <summary>The raw bits: sign, exponent, mantissa, as in memory and in safetensors' BF16.</summary>
    public ushort Bits => bits;

    /// <summary>The value with these raw bits.</summary>
    /// <param name="bits">Sign, exponent and mantissa bits.</param>
    public static BFloat16 FromBits(ushort bits) => new(bits);

    /// <summary>Whether the value is a NaN.</summary>
    /// <param name="value">The value.</param>
    public static bool IsNaN(BFloat16 value) => (value.bits & 0x7FFF) > 0x7F80;

    /// <summary>Whether the value is +infinity or -infinity.</summary>
    /// <param name="value">The value.</param>
    public static bool IsInfinity(BFloat16 value) => (value.bits & 0x7FFF) == 0x7F80;

    /// <summary>Exact widening: the float whose high 16 bits are these.</summary>
    /// <param name="value">The value.</param>
    public static explicit operator float(BFloat16 value) => BitConverter.UInt32BitsToSingle((uint)value.bits << 16);

    /// <summary>Exact widening to double (through float, which is exact).</summary>
    /// <param name="value">The value.</param>
    public static explicit operator double(BFloat16 value) => (float)value;

    /// <summary>Rounds to the nearest bfloat16, ties to even; NaN stays a (quiet) NaN.</summary>
    /// <param name="value">The value.</param>
    public static explicit operator BFloat16(float value) => new(Round(BitConverter.SingleToUInt32Bits(value)));

    /// <summary>
    /// Rounds the double to the nearest bfloat16, ties to even, once: through a float rounded to odd, which has bits
    /// enough to keep the second rounding from ever rounding a rounded value again.
    /// </summary>
    /// <param name="value">The value.</param>
    public static explicit operator BFloat16(double value)
    {
        float nearest = (float)value;
        uint x = BitConverter.SingleToUInt32Bits(nearest);
        if (float.IsFinite(nearest) && nearest != value && (x & 1) == 0)
        {
            // The odd neighbour on value's side: bits move away from 0 when |value| is above |nearest|.
            x = Math.Abs(value) > Math.Abs(nearest) ? x + 1 : x - 1;
        }

        return new(Round(x));
    }

    /// <summary>Numeric equality: NaN == NaN is false, -0 == +0 is true.</summary>
    /// <param name="left">Left value.</param>
    /// <param name="right">Right value.</param>
    public static bool operator ==(BFloat16 left, BFloat16 right) => (float)left == (float)right;

    /// <summary>Numeric inequality.</summary>
    /// <param name="left">Left value.</param>
    /// <param name="right">Right value.</param>
    public static bool operator !=(BFloat16 left, BFloat16 right) => (float)left != (float)right;

    /// <summary>Numeric order (false with a NaN).</summary>
    /// <param name="left">Left value.</param>
    /// <param name="right">Right value.</param>
    public static bool operator <(BFloat16 left, BFloat16 right) => (float)left < (float)right;

    /// <summary>Numeric order (false with a NaN).</summary>
    /// <param name="left">Left value.</param>
    /// <param name="right">Right value.</param>
    public static bool operator >(BFloat16 left, BFloat16 right) => (float)left > (float)right;

    /// <summary>Numeric order (false with a NaN).</summary>
    /// <param name="left">Left value.</param>
    /// <param name="right">Right value.</param>
    public static bool operator <=(BFloat16 left, BFloat16 right) => (float)left <= (float)right;

    /// <summary>Numeric order (false with a NaN).</summary>
    /// <param name="left">Left value.</param>
    /// <param name="right">Right value.</param>
    public static bool operator >=(BFloat16 left, BFloat16 right) => (float)left >= (float)right;

    /// <summary>Widens every element (exact): float [i] = source [i].</summary>
    /// <param name="source">Values [n].</param>
    /// <param name="destination">Destination [n] or longer, not overlapping the source (<see cref="ArgumentException"/>).</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void ConvertToSingle(ReadOnlySpan<BFloat16> source, Span<float> destination)
    {
        if (destination.Length < source.Length)
        {
            throw new ArgumentException($"Destination is too short: {destination.Length} elements, {source.Length} needed.", nameof(destination));
        }

        // Each float written covers two bfloat16 not yet read: any overlap would widen values already overwritten.
        if (MemoryMarshal.AsBytes(source).Overlaps(MemoryMarshal.AsBytes(destination[..source.Length])))
        {
            throw new ArgumentException("The destination overlaps the source: widening in place would overwrite values not yet read; pass a separate buffer.", nameof(destination));
        }

        // A 16-bit shift into the high half of each 32-bit lane: widen the ushorts, shift, reinterpret.
        var bitsIn = MemoryMarshal.Cast<BFloat16, ushort>(source);
        var bitsOut = MemoryMarshal.Cast<float, uint>(destination);
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= bitsIn.Length - Vector512<ushort>.Count; i += Vector512<ushort>.Count)
            {
                var (lower, upper) = Vector512.Widen(Vector512.Create(bitsIn.Slice(i, Vector512<ushort>.Count)));
                Vector512.ShiftLeft(lower, 16).CopyTo(bitsOut.Slice(i));
                Vector512.ShiftLeft(upper, 16).CopyTo(bitsOut.Slice(i + Vector512<uint>.Count));
            }
        }

        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= bitsIn.Length - Vector256<ushort>.Count; i += Vector256<ushort>.Count)
            {
                var (lower, upper) = Vector256.Widen(Vector256.Create(bitsIn.Slice(i, Vector256<ushort>.Count)));
                Vector256.ShiftLeft(lower, 16).CopyTo(bitsOut.Slice(i));
                Vector256.ShiftLeft(upper, 16).CopyTo(bitsOut.Slice(i + Vector256<uint>.Count));
            }
        }

        for (; i < bitsIn.Length; i++)
        {
            bitsOut[i] = (uint)bitsIn[i] << 16;
        }
    }

    /// <summary>Rounds every element as the explicit conversion does (nearest, ties to even, NaN kept).</summary>
    /// <param name="source">Values [n].</param>
    /// <param name="destination">Destination [n] or longer: the source's own memory from its first element (in place), or memory
    /// not overlapping it (any other overlap throws <see cref="ArgumentException"/>).</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void ConvertToBFloat16(ReadOnlySpan<float> source, Span<BFloat16> destination)
    {
        if (destination.Length < source.Length)
        {
            throw new ArgumentException($"Destination is too short: {destination.Length} elements, {source.Length} needed.", nameof(destination));
        }

        // Written from the source's own first byte, each store lands on floats already read; a destination starting
        // anywhere else inside the source would overwrite floats before they are read.
        var written = MemoryMarshal.AsBytes(destination[..source.Length]);
        if (MemoryMarshal.AsBytes(source).Overlaps(written) && !Unsafe.AreSame(ref MemoryMarshal.GetReference(written), ref Unsafe.As<float, byte>(ref MemoryMarshal.GetReference(source))))
        {
            throw new ArgumentException("The destination overlaps the source without starting at its first element: pass the source's own memory (in place) or a separate buffer.", nameof(destination));
        }

        var bitsIn = MemoryMarshal.Cast<float, uint>(source);
        var bitsOut = MemoryMarshal.Cast<BFloat16, ushort>(destination);
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            int k = Vector256<uint>.Count;
            for (; i <= bitsIn.Length - (2 * k); i += 2 * k)
            {
                var lower = Round(Vector256.Create(bitsIn.Slice(i, k)));
                var upper = Round(Vector256.Create(bitsIn.Slice(i + k, k)));
                Vector256.Narrow(lower, upper).CopyTo(bitsOut.Slice(i));
            }
        }

        for (; i < bitsIn.Length; i++)
        {
            bitsOut[i] = Round(bitsIn[i]);
        }
    }

    /// <inheritdoc/>
    public bool Equals(BFloat16 other) => this == other || (IsNaN(this) && IsNaN(other));

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is BFloat16 other && Equals(other);

    /// <summary>The hash of the float value (equal values, -0 and +0 included, hash alike).</summary>
    public override int GetHashCode() => ((float)this).GetHashCode();

    /// <inheritdoc/>
    public int CompareTo(BFloat16 other) => ((float)this).CompareTo((float)other);

    /// <inheritdoc/>
    public int CompareTo(object? obj) => obj switch
    {
        null => 1,
        BFloat16 other => CompareTo(other),
        _ => throw new ArgumentException("Object must be of type BFloat16.", nameof(obj)),
    };

    /// <summary>The shortest text that reads back as the same bfloat16 (through float), current culture.</summary>
    public override string ToString() => ToString(null, CultureInfo.CurrentCulture);

    /// <summary>Formats the value as its float would be formatted.</summary>
    /// <param name="format">A numeric format string; null for the shortest round-tripping form.</param>
    /// <param name="formatProvider">Culture; null for the current one.</param>
    public string ToString(string? format, IFormatProvider? formatProvider) =>
        format == null ? ShortestText(formatProvider) : ((float)this).ToString(format, formatProvider);

    /// <summary>
    /// The fewest significant digits (1 to 9) that parse back to this value once rounded to bfloat16, so 0.1 prints
    /// as 0.1 and not as its float expansion 0.10009765625.
    /// </summary>
    private string ShortestText(IFormatProvider? provider)
    {
        float value = (float)this;
        if (!float.IsFinite(value) || value == 0)
        {
            return value.ToString(provider);
        }

        for (int digits = 1; digits < 9; digits++)
        {
            string text = value.ToString("G" + digits.ToString(CultureInfo.InvariantCulture), provider);
            if (float.TryParse(text, NumberStyles.Float, provider, out float parsed) && ((BFloat16)parsed).bits == bits)
            {
                return text;
            }
        }

        return value.ToString(provider);
    }

    /// <summary>Round to nearest even on the 16 bits cut off; a NaN gets its quiet bit set instead.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort Round(uint x)
    {
        if ((x & 0x7FFF_FFFF) > 0x7F80_0000)
        {
            return (ushort)((x >> 16) | 0x0040);
        }

        // Adding 0x7FFF plus the lowest kept bit carries into the kept half exactly when the cut half is above
        // one half, or equal to it with an odd kept half; an overflow lands on infinity's bit pattern.
        return (ushort)((x + 0x7FFF + ((x >> 16) & 1)) >> 16);
    }

    /// <summary>The same rounding on 16 lanes of float bits at once (the kernels narrow in registers).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<uint> Round(Vector512<uint> x)
    {
        var rounded = Vector512.ShiftRightLogical(x + Vector512.Create(0x7FFFu) + (Vector512.ShiftRightLogical(x, 16) & Vector512<uint>.One), 16);
        var quiet = Vector512.ShiftRightLogical(x, 16) | Vector512.Create(0x0040u);
        var nan = Vector512.GreaterThan(x & Vector512.Create(0x7FFF_FFFFu), Vector512.Create(0x7F80_0000u));
        return Vector512.ConditionalSelect(nan, quiet, rounded);
    }

    /// <summary>The same rounding on four lanes at once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<uint> Round(Vector128<uint> x)
    {
        var rounded = Vector128.ShiftRightLogical(x + Vector128.Create(0x7FFFu) + (Vector128.ShiftRightLogical(x, 16) & Vector128<uint>.One), 16);
        var quiet = Vector128.ShiftRightLogical(x, 16) | Vector128.Create(0x0040u);
        var magnitude = x & Vector128.Create(0x7FFF_FFFFu);
        var nan = Avx512F.VL.IsSupported
            ? Vector128.GreaterThan(magnitude, Vector128.Create(0x7F80_0000u))
            : Vector128.GreaterThan(magnitude.AsInt32(), Vector128.Create(0x7F80_0000)).AsUInt32();
        return Vector128.ConditionalSelect(nan, quiet, rounded);
    }

    /// <summary>The same rounding on eight lanes at once: the NaN lanes are chosen with a mask.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<uint> Round(Vector256<uint> x)
    {
        var rounded = Vector256.ShiftRightLogical(x + Vector256.Create(0x7FFFu) + (Vector256.ShiftRightLogical(x, 16) & Vector256<uint>.One), 16);
        var quiet = Vector256.ShiftRightLogical(x, 16) | Vector256.Create(0x0040u);
        // Both sides are below 2^31: without AVX-512 compared as signed, AVX2's only compare (an unsigned one costs
        // sign flips); with it unsigned, which the JIT turns into a mask register and a masked OR instead of a blend.
        var magnitude = x & Vector256.Create(0x7FFF_FFFFu);
        var nan = Avx512F.VL.IsSupported
            ? Vector256.GreaterThan(magnitude, Vector256.Create(0x7F80_0000u))
            : Vector256.GreaterThan(magnitude.AsInt32(), Vector256.Create(0x7F80_0000)).AsUInt32();
        return Vector256.ConditionalSelect(nan, quiet, rounded);
    }
}
