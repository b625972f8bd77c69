using Xent.Kernels;
using Xent.Reference;

namespace Xent.Tests.Core;

/// <summary>
/// Label smoothing's sum w z under logits with a large common offset (N(0, 2^2) + 1e4 or + 1e5): summed in float
/// from 0, each term's rounding was relative to the offset, not to the logits' spread (5e-6 to 1.8e-5 of the loss at
/// +1e4, V 50257, by the width; up to 7e-4 at +1e5), where PyTorch's float32 loss is 1.7e-7 off. Summed as w (z - o)
/// from an origin o in the block, o sum w in double, every path keeps the loss to 1e-6.
/// </summary>
public class SmoothingOffsetPrecisionTests
{
    private const double Tolerance = 1e-6;
    private const int Rows = 3;

    [Theory]
    [InlineData(50257, 1e4f, false)]
    [InlineData(50257, 1e4f, true)]
    [InlineData(50257, 1e5f, false)]
    [InlineData(50257, 1e5f, true)]
    [InlineData(1000, 1e4f, false)]
    [InlineData(1000, 1e5f, true)]
    [InlineData(100, 1e4f, false)]
    [InlineData(100, 1e5f, true)]
    public void SmoothedLossKeepsItsAccuracyUnderALargeOffset(int v, float offset, bool weighted)
    {
        var random = new Random(v + (int)offset + (weighted ? 1 : 0));
        var x = new float[Rows * v];
        for (int i = 0; i < x.Length; i++)
        {
            double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
            x[i] = (float)(2 * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2)) + offset;
        }

        var y = new int[Rows];
        for (int r = 0; r < Rows; r++)
        {
            y[r] = random.Next(v);
        }

        var o = new CrossEntropyOptions { LabelSmoothing = 0.1f, ClassWeights = weighted ? TestData.Weights(v, v) : null, Reduction = Reduction.Sum };
        double[] expected = CrossEntropyReference.RowLosses(x, y, o with { Reduction = Reduction.None });
        double total = expected.Sum();
        foreach (var width in Simd.Supported())
        {
            using var scope = Simd.Override(width);
            foreach (int threads in new[] { 1, 2 })
            {
                var ot = o with { MaxDegreeOfParallelism = threads };
                string what = $"{v} +{offset} weighted {weighted} {width} t{threads}";
                var losses = new float[Rows];
                CrossEntropy.LossPerRow(x, y, losses, ot with { Reduction = Reduction.None });
                for (int r = 0; r < Rows; r++)
                {
                    Close.Scalar(expected[r], losses[r], relative: Tolerance, absolute: 0, what: $"{what} LossPerRow row {r}");
                }

                Close.Scalar(total, CrossEntropy.Loss(x, y, ot), relative: Tolerance, absolute: 0, what: $"{what} Loss");
                var g = new float[x.Length];
                Close.Scalar(total, CrossEntropy.LossAndGradient(x, y, g, ot), relative: Tolerance, absolute: 0, what: $"{what} LossAndGradient");
                var inPlace = (float[])x.Clone();
                Close.Scalar(total, CrossEntropy.LossAndGradient(inPlace, y, inPlace, ot), relative: Tolerance, absolute: 0, what: $"{what} in place");
                Assert.True(g.AsSpan().SequenceEqual(inPlace), $"{what}: in place differs");
            }
        }
    }

    [Fact]
    public void TheWeightSumAddsInOneOrderOnEveryMachine()
    {
        // o sum w enters a weighted, smoothed loss at an offset: its bits must not follow the hardware's vector width
        // (the 256-bit form here, the 128-bit one under DOTNET_EnableAVX2=0 and on Arm64: CI runs both). The order it
        // promises: weight i in running sum i mod 8, then ((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7)), then the tail.
        var random = new Random(7);
        foreach (int n in Enumerable.Range(0, 41).Concat(new[] { 1000, 16383, 16384 }))
        {
            var w = new float[n];
            for (int i = 0; i < n; i++)
            {
                w[i] = (float)(random.NextDouble() * Math.Pow(2, random.Next(-30, 30)));
            }

            var s = new double[8];
            int whole = n / 8 * 8;
            for (int i = 0; i < whole; i++)
            {
                s[i % 8] += w[i];
            }

            double expected = ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
            for (int i = whole; i < n; i++)
            {
                expected += w[i];
            }

            Assert.Equal(BitConverter.DoubleToInt64Bits(expected), BitConverter.DoubleToInt64Bits(StatisticsKernel.WeightSum(w)));
        }
    }
}
