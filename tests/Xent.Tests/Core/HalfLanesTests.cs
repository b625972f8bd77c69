using System.Runtime.Intrinsics;
using Xent.Kernels;

namespace Xent.Tests.Core;

/// <summary>
/// Half logits are widened in registers by the statistics loop: every one of the 65,536 Half bit patterns widens to
/// the float the Half conversion gives, at each vector width, and the losses are bitwise the float path's on the
/// widened values at every width, length and thread count. Float lanes are narrowed to Half bits as the float -&gt;
/// Half conversion rounds.
/// </summary>
public class HalfLanesTests
{

    [Fact]
    public void EveryHalfPattern_WidensAsTheConversion()
    {
        for (int start = 0; start < 65536; start += 16)
        {
            // Sign-extended, as the lanes load them.
            var bits = Enumerable.Range(start, 16).Select(b => (int)(short)b).ToArray();
            var expected = bits.Select(b => (float)BitConverter.UInt16BitsToHalf((ushort)b)).ToArray();
            var w512 = HalfBits.Widen(Vector512.Create(bits));
            var w256 = HalfBits.Widen(Vector256.Create(bits.AsSpan(0, 8)));
            var w128 = HalfBits.Widen(Vector128.Create(bits.AsSpan(0, 4)));
            for (int i = 0; i < 16; i++)
            {
                Same(expected[i], w512[i], bits[i]);
                if (i < 8)
                {
                    Same(expected[i], w256[i], bits[i]);
                }

                if (i < 4)
                {
                    Same(expected[i], w128[i], bits[i]);
                }
            }
        }
    }

    /// <summary>
    /// Every sign, exponent and top 7 mantissa bits (the high 16 bits), under low 16 bits that hold each rounding
    /// point a normal or barely subnormal half has there (ties, one either side) and some others: narrowed as the
    /// float -&gt; Half conversion rounds, at each width and through the scalar lane. (All 2^32 patterns were checked
    /// when the narrowing was written; this is the part that stays in the suite.)
    /// </summary>
    [Fact]
    public void FloatPatterns_NarrowAsTheConversion()
    {
        var low = new List<uint> { 0, 0xFFFF, 0x5A5A, 0x0ABC, 0xF00D, 0x7777 };
        for (int shift = 0; shift < 4; shift++)
        {
            uint tie = 0x1000u << shift;
            low.AddRange([tie - 1, tie, tie + 1, (tie << 1) - 1, (tie * 3) - 1, tie * 3, (tie * 3) + 1]);
        }

        low = low.Where(b => b <= 0xFFFF).Distinct().ToList();
        var bits = new uint[16];
        for (uint high = 0; high < 65536; high++)
        {
            for (int l = 0; l < low.Count; l += 16)
            {
                for (int i = 0; i < 16; i++)
                {
                    bits[i] = (high << 16) | low[(l + i) % low.Count];
                }

                var x = bits.Select(BitConverter.UInt32BitsToSingle).ToArray();
                var n512 = HalfBits.Narrow(Vector512.Create(x));
                var n256 = HalfBits.Narrow(Vector256.Create(x.AsSpan(0, 8)));
                var n128 = HalfBits.Narrow(Vector128.Create(x.AsSpan(0, 4)));
                for (int i = 0; i < 16; i++)
                {
                    uint expected = BitConverter.HalfToUInt16Bits((Half)x[i]);
                    if (n512[i] != expected || (i < 8 && n256[i] != expected) || (i < 4 && n128[i] != expected))
                    {
                        Assert.Fail($"0x{bits[i]:X8}: 0x{expected:X4} expected, 0x{n512[i]:X4} at 512 bits");
                    }
                }
            }
        }
    }

    /// <summary>Float blocks of every length 0..70 narrowed through the lanes' stores (a product by 1: exact), at each width.</summary>
    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void Blocks_StoreAsTheConversion(VectorWidth width)
    {
        var random = new Random(12);
        for (int n = 0; n <= 70; n++)
        {
            var x = Enumerable.Range(0, n).Select(_ => BitConverter.Int32BitsToSingle(random.Next(int.MinValue, int.MaxValue))).ToArray();
            if (n > 3)
            {
                x[0] = 65520f;        // a tie that rounds up to infinity
                x[1] = 65519.996f;    // just below it: the largest half
                x[2] = 2.9802322e-8f; // 2^-25, a tie between 0 and the smallest subnormal
                x[3] = float.NaN;
            }

            var h = new Half[n + 1];
            h[n] = (Half)7f; // past the block: must stay
            GradientKernel.Scale(width, x, h.AsSpan(0, n), 1f);
            for (int i = 0; i < n; i++)
            {
                Assert.True(BitConverter.HalfToUInt16Bits((Half)x[i]) == BitConverter.HalfToUInt16Bits(h[i]), $"{width}, n = {n}, [{i}] = {x[i]}");
            }

            Assert.Equal((Half)7f, h[n]);
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void Losses_EqualTheFloatPathOnTheWidenedValues_Bitwise(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        foreach (int v in new[] { 1, 5, 16, 31, 33, 64, 127, 129, 4097, 9001, 20000 })
        {
            const int rows = 5;
            var half = TestData.Logits(rows, v, v, scale: 20f).Select(x => (Half)x).ToArray();
            half[0] = Half.NegativeInfinity;
            half[^1] = BitConverter.UInt16BitsToHalf(0x0003); // a subnormal
            if (v > 2)
            {
                half[1] = BitConverter.UInt16BitsToHalf(0x8000); // -0
                half[v + 1] = Half.MaxValue;
            }

            var exact = half.Select(x => (float)x).ToArray();
            var y = TestData.Targets(rows, v, v, ignoreEvery: 4);
            foreach (var o in new CrossEntropyOptions[] { new(), new() { Reduction = Reduction.Sum, LabelSmoothing = 0.1f, ClassWeights = TestData.Weights(v, 2), ZLoss = 1e-4f } })
            {
                foreach (int threads in TestData.ThreadCounts)
                {
                    var ot = o with { MaxDegreeOfParallelism = threads };
                    string what = $"V = {v} {width} {threads} threads";
                    Assert.True(BitConverter.SingleToInt32Bits(CrossEntropy.Loss(exact, y, ot)) == BitConverter.SingleToInt32Bits(CrossEntropy.Loss(half, y, ot)), what);
                    float[] r = new float[rows], rf = new float[rows], lse = new float[rows], lsef = new float[rows];
                    CrossEntropy.LossPerRow(half, y, r, lse, ot);
                    CrossEntropy.LossPerRow(exact, y, rf, lsef, ot);
                    Assert.Equal(rf.Select(BitConverter.SingleToInt32Bits), r.Select(BitConverter.SingleToInt32Bits));
                    Assert.Equal(lsef.Select(BitConverter.SingleToInt32Bits), lse.Select(BitConverter.SingleToInt32Bits));
                }
            }
        }
    }

    private static void Same(float expected, float actual, int bits)
    {
        if (float.IsNaN(expected))
        {
            Assert.True(float.IsNaN(actual), $"0x{(ushort)bits:X4}");
        }
        else
        {
            Assert.True(BitConverter.SingleToUInt32Bits(expected) == BitConverter.SingleToUInt32Bits(actual), $"0x{(ushort)bits:X4}: {expected} vs {actual}");
        }
    }
}
