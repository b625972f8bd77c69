using System.Globalization;
using System.Runtime.InteropServices;

namespace Xent.Tests.Core;

/// <summary>The BFloat16 type's conversions, over every bit pattern, against a plain reference from the format's definition.</summary>
public class BFloat16Tests
{
    /// <summary>The value of a bfloat16 pattern from its fields: (-1)^s x 1.m x 2^(e - 127), subnormal 0.m x 2^-126.</summary>
    private static double Decode(ushort bits)
    {
        int sign = bits >> 15, exponent = (bits >> 7) & 0xFF, mantissa = bits & 0x7F;
        double magnitude = exponent switch
        {
            0 => mantissa / 128.0 * Math.Pow(2, -126),
            0xFF => mantissa == 0 ? double.PositiveInfinity : double.NaN,
            _ => (1 + (mantissa / 128.0)) * Math.Pow(2, exponent - 127),
        };
        return sign == 1 ? -magnitude : magnitude;
    }

    /// <summary>
    /// Nearest bfloat16 by comparing distances in double: the pattern below |x| (cut bits) and the one above; ties go
    /// to the even mantissa; past the largest finite value by half an ulp or more, infinity.
    /// </summary>
    private static ushort NearestReference(double x)
    {
        ushort sign = (ushort)(double.IsNegative(x) ? 0x8000 : 0);
        double a = Math.Abs(x);
        ushort below = 0;
        for (int step = 1 << 14; step > 0; step >>= 1)
        {
            if (below + step <= 0x7F80 && Decode((ushort)(below + step)) <= a)
            {
                below = (ushort)(below + step);
            }
        }

        if (below == 0x7F80 || Decode(below) == a)
        {
            return (ushort)(sign | below);
        }

        ushort above = (ushort)(below + 1);
        double up = above == 0x7F80 ? Math.Pow(2, 128) : Decode(above); // infinity sits where 2^128 would
        double dBelow = a - Decode(below), dAbove = up - a;
        bool takeAbove = dAbove < dBelow || (dAbove == dBelow && (below & 1) == 1);
        return (ushort)(sign | (takeAbove ? above : below));
    }

    [Fact]
    public void WideningIsExactForEveryPattern()
    {
        for (int b = 0; b < 65536; b++)
        {
            float f = (float)BFloat16.FromBits((ushort)b);
            double expected = Decode((ushort)b);
            if (double.IsNaN(expected))
            {
                Assert.True(float.IsNaN(f), $"0x{b:X4}");
            }
            else
            {
                Assert.True(expected == f && double.IsNegative(expected) == float.IsNegative(f), $"0x{b:X4}: {f} vs {expected}");
            }
        }
    }

    [Fact]
    public void NarrowingRoundsToNearestEvenAroundEveryPattern()
    {
        var random = new Random(5);
        for (int b = 0; b < 65536; b++)
        {
            uint high = (uint)b << 16;
            if (float.IsNaN(BitConverter.UInt32BitsToSingle(high)))
            {
                continue;
            }

            // The pattern itself, one float ulp either side, the midpoint to the next pattern, the midpoint +- 1
            // float ulp, the last float before the next pattern, and a random low half.
            foreach (uint low in new uint[] { 0, 1, 0x7FFF, 0x8000, 0x8001, 0xFFFF, (uint)random.Next(0x10000) })
            {
                float x = BitConverter.UInt32BitsToSingle(high | low);
                if (float.IsNaN(x))
                {
                    continue; // infinity's pattern with low bits: NaN, tested in SpecialValues
                }

                Assert.Equal(NearestReference(x), ((BFloat16)x).Bits);
                Assert.Equal(NearestReference(x), ((BFloat16)(double)x).Bits);
            }

            float below = BitConverter.UInt32BitsToSingle(high - 1);
            if (b is not 0 and not 0x8000 && !float.IsNaN(below))
            {
                Assert.Equal(NearestReference(below), ((BFloat16)below).Bits);
            }
        }
    }

    [Fact]
    public void DoublesRoundOnceNotTwice()
    {
        // 1 + 2^-8 + 2^-40 is just above the midpoint between 1 and 1 + 2^-7: nearest is up. Through float it
        // would first become the midpoint exactly, then round to even (down).
        double x = 1 + Math.Pow(2, -8) + Math.Pow(2, -40);
        Assert.Equal(0x3F81, ((BFloat16)x).Bits);
        Assert.Equal(0x3F80, ((BFloat16)(float)x).Bits);
        var random = new Random(11);
        for (int i = 0; i < 200_000; i++)
        {
            double d = (random.NextDouble() - 0.5) * Math.Pow(2, random.Next(-140, 130));
            Assert.Equal(NearestReference(d), ((BFloat16)d).Bits);
        }
    }

    [Fact]
    public void SpecialValues()
    {
        Assert.Equal(0x7F80, ((BFloat16)float.PositiveInfinity).Bits);
        Assert.Equal(0xFF80, ((BFloat16)float.NegativeInfinity).Bits);
        Assert.Equal(0x8000, ((BFloat16)(-0f)).Bits);
        Assert.Equal(0x7F80, ((BFloat16)float.MaxValue).Bits); // above the largest bfloat16 by more than half an ulp
        Assert.Equal(0, ((BFloat16)float.Epsilon).Bits); // 2^-149 is far below half of bfloat16's 2^-133
        Assert.Equal(0x0001, ((BFloat16)MathF.ScaleB(1, -133)).Bits);
        Assert.Equal(MathF.ScaleB(1, -133), (float)BFloat16.Epsilon);
        Assert.Equal(Decode(0x7F7F), (float)BFloat16.MaxValue);

        // NaNs whose payload sits only in the cut half must not become infinity; the sign stays.
        foreach (uint nan in new uint[] { 0x7F800001, 0xFF800001, 0x7FC00000, 0x7F80FFFF, 0xFFFFFFFF })
        {
            var b = (BFloat16)BitConverter.UInt32BitsToSingle(nan);
            Assert.True(BFloat16.IsNaN(b), $"0x{nan:X8}");
            Assert.Equal(nan >> 31, (uint)b.Bits >> 15);
            Assert.True(BFloat16.IsNaN((BFloat16)(double)BitConverter.UInt32BitsToSingle(nan)));
        }

        Assert.True(BFloat16.IsNaN(BFloat16.NaN));
        Assert.True(BFloat16.IsInfinity(BFloat16.NegativeInfinity));
        Assert.False(BFloat16.IsInfinity(BFloat16.MaxValue));
    }

    [Fact]
    public void EqualityAndOrderAreNumeric()
    {
        var nan = BFloat16.NaN;
        var otherNaN = BFloat16.FromBits(0xFFC1);
        Assert.False(nan == otherNaN);
        Assert.True(nan != otherNaN);
        Assert.False(nan == BFloat16.FromBits(nan.Bits));
        Assert.True(nan.Equals(nan)); // as float.Equals: reflexive, so NaN keys work in dictionaries
        Assert.True((BFloat16)0f == (BFloat16)(-0f));
        Assert.Equal(((BFloat16)0f).GetHashCode(), ((BFloat16)(-0f)).GetHashCode());
        Assert.True((BFloat16)1f < (BFloat16)2f);
        Assert.False(nan < (BFloat16)1f);
        Assert.True((BFloat16)(-1f) <= (BFloat16)(-1f));
        Assert.Equal(-1, ((BFloat16)1f).CompareTo((BFloat16)2f));
        Assert.Equal(-1, nan.CompareTo((BFloat16)0f)); // NaN sorts first, as float's CompareTo
        Assert.Equal(1, ((BFloat16)1f).CompareTo(null));
        Assert.Throws<ArgumentException>(() => ((BFloat16)1f).CompareTo("1"));
    }

    [Fact]
    public void FormatsTheShortestTextThatReadsBack()
    {
        var invariant = CultureInfo.InvariantCulture;
        Assert.Equal("0.1", ((BFloat16)0.1f).ToString(null, invariant));
        Assert.Equal("3.14", ((BFloat16)MathF.PI).ToString(null, invariant));
        Assert.Equal("-0", ((BFloat16)(-0f)).ToString(null, invariant));
        Assert.Equal("NaN", BFloat16.NaN.ToString(null, invariant));
        Assert.Equal("3.1406", ((BFloat16)MathF.PI).ToString("F4", invariant)); // a format shows the stored 3.140625
        for (int b = 0; b < 65536; b += 7)
        {
            var value = BFloat16.FromBits((ushort)b);
            if (!BFloat16.IsNaN(value))
            {
                var parsed = (BFloat16)float.Parse(value.ToString(null, invariant), invariant);
                Assert.Equal(value.Bits, parsed.Bits);
            }
        }
    }

    [Fact]
    public void SpanConversionsEqualTheScalarOnesForEveryLength()
    {
        var random = new Random(3);
        for (int length = 0; length <= 70; length++)
        {
            var bits = Enumerable.Range(0, length).Select(_ => BFloat16.FromBits((ushort)random.Next(65536))).ToArray();
            var wide = new float[length];
            BFloat16.ConvertToSingle(bits, wide);
            for (int i = 0; i < length; i++)
            {
                Assert.Equal(BitConverter.SingleToUInt32Bits((float)bits[i]), BitConverter.SingleToUInt32Bits(wide[i]));
            }

            var floats = Enumerable.Range(0, length).Select(_ => BitConverter.UInt32BitsToSingle((uint)random.NextInt64(1L << 32))).ToArray();
            var narrow = new BFloat16[length];
            BFloat16.ConvertToBFloat16(floats, narrow);
            for (int i = 0; i < length; i++)
            {
                Assert.Equal(((BFloat16)floats[i]).Bits, narrow[i].Bits);
            }
        }

        Assert.Throws<ArgumentException>(() => BFloat16.ConvertToSingle(new BFloat16[3], new float[2]));
        Assert.Throws<ArgumentException>(() => BFloat16.ConvertToBFloat16(new float[3], new BFloat16[2]));
    }

    [Fact]
    public void SpanConversionsNarrowInPlace_AndRefuseOtherOverlaps()
    {
        // Narrowing over the source's own first bytes is safe (each write lands on floats already read) and gives the
        // scalar conversions, at every length the vector loops see.
        for (int length = 1; length <= 70; length++)
        {
            var floats = Enumerable.Range(0, length).Select(i => (i * 1.37f) - 20).ToArray();
            var expected = floats.Select(x => ((BFloat16)x).Bits).ToArray();
            var buffer = (float[])floats.Clone();
            var narrowed = MemoryMarshal.Cast<float, BFloat16>(buffer.AsSpan())[..length];
            BFloat16.ConvertToBFloat16(buffer, narrowed);
            Assert.Equal(expected, narrowed.ToArray().Select(b => b.Bits).ToArray());
        }

        // Widening in place writes ahead of what it reads, and a narrowed copy that starts inside its source
        // overwrites floats not yet read: both gave wrong values (from the 33rd element, 2 x 16 lanes at 512 bits)
        // with no error. They throw, before anything is written.
        var wide = new float[40];
        var bits = MemoryMarshal.Cast<float, BFloat16>(wide.AsSpan());
        for (int i = 0; i < 40; i++)
        {
            bits[i] = (BFloat16)(i + 0.5f);
        }

        var before = wide.ToArray();
        var e = Assert.Throws<ArgumentException>(() => BFloat16.ConvertToSingle(MemoryMarshal.Cast<float, BFloat16>(wide.AsSpan())[..40], wide));
        Assert.Equal("destination", e.ParamName);
        Assert.Equal(before, wide);

        var source = Enumerable.Range(0, 40).Select(i => i + 0.5f).ToArray();
        before = source.ToArray();
        e = Assert.Throws<ArgumentException>(() => BFloat16.ConvertToBFloat16(source.AsSpan(0, 20), MemoryMarshal.Cast<float, BFloat16>(source.AsSpan()).Slice(30, 20)));
        Assert.Equal("destination", e.ParamName);
        Assert.Equal(before, source);

        // Disjoint parts of one buffer are fine.
        var shared = Enumerable.Range(0, 40).Select(i => i + 0.5f).ToArray();
        BFloat16.ConvertToBFloat16(shared.AsSpan(0, 20), MemoryMarshal.Cast<float, BFloat16>(shared.AsSpan(20)));
        Assert.Equal(Enumerable.Range(0, 20).Select(i => ((BFloat16)(i + 0.5f)).Bits), MemoryMarshal.Cast<float, BFloat16>(shared.AsSpan(20))[..20].ToArray().Select(b => b.Bits));
    }
}
