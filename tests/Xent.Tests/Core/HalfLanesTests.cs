using System.Runtime.Intrinsics;
using Xent.Kernels;

namespace Xent.Tests.Core;

/// <summary>
/// Half logits are widened in registers by the statistics loop: every one of the 65,536 Half bit patterns widens to
/// the float the Half conversion gives, at each vector width, and the losses are bitwise the float path's on the
/// widened values at every width, length and thread count.
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
