using Xent.Kernels;
using Xent.Reference;

namespace Xent.Tests.Core;

/// <summary>
/// A confident row (one logit 20, the rest in (-1, 1)) of every length the kernels split differently: short blocks
/// the two-pass loop takes (a lane then sums several terms, one of them the max's 1), the single passes' first chunk,
/// chunks and whole vectors after it, and the shifted-back last vector, whose lanes another vector counted too. The
/// loss is then the sum of the other terms, under 1e-5 here, and a float sum that adds one of them to the 1 drops it:
/// the lane holding the max lost its share (3-56% of the loss by the length and the width). Each row must keep its
/// loss and dz[y] = p[y] - 1 to a few float roundings, at every width, from float, Half and bfloat16 logits, and
/// under a soft cap, whose gradient stores each exponential times the cap's derivative over the capped logits.
/// </summary>
public class LeadingLogitRowLengthTests
{
    private const double Tolerance = 4e-6;

    private static readonly int[] Lengths = [10, 24, 40, 64, 100, 127, 129, 200, 1000, 16389];

    [Fact]
    public void LossAndGradientKeepTheSmallLossAtEveryLengthAndWidth()
    {
        foreach (int v in Lengths)
        {
            var (x, targets) = Rows(v);
            double[] expected = CrossEntropyReference.RowLosses(x, targets);
            foreach (var width in Simd.Supported())
            {
                using var scope = Simd.Override(width);
                var losses = new float[targets.Length];
                CrossEntropy.LossPerRow(x, targets, losses);
                var g = new float[x.Length];
                var inPlace = (float[])x.Clone();
                var options = new CrossEntropyOptions { Reduction = Reduction.Sum };
                CrossEntropy.LossAndGradient(x, targets, g, options);
                CrossEntropy.LossAndGradient(inPlace, targets, inPlace, options);
                for (int r = 0; r < targets.Length; r++)
                {
                    string what = $"V {v} {width} row {r} (target {targets[r]})";
                    Close.Scalar(expected[r], losses[r], relative: Tolerance, absolute: 0, what: $"{what} loss");
                    double dzy = double.ExpM1(-expected[r]);
                    Close.Scalar(dzy, g[(r * v) + targets[r]], relative: Tolerance, absolute: 0, what: $"{what} dz[y]");
                    Close.Scalar(dzy, inPlace[(r * v) + targets[r]], relative: Tolerance, absolute: 0, what: $"{what} dz[y] in place");
                }
            }
        }
    }

    [Fact]
    public void HalfAndBFloat16LogitsKeepTheSmallLoss()
    {
        foreach (int v in Lengths)
        {
            var (x, targets) = Rows(v);
            var h = x.Select(z => (Half)z).ToArray();
            var b = new BFloat16[x.Length];
            BFloat16.ConvertToBFloat16(x, b);
            double[] expectedHalf = CrossEntropyReference.RowLosses(h.Select(z => (float)z).ToArray(), targets);
            var widened = new float[x.Length];
            BFloat16.ConvertToSingle(b, widened);
            double[] expectedBFloat16 = CrossEntropyReference.RowLosses(widened, targets);
            foreach (var width in Simd.Supported())
            {
                using var scope = Simd.Override(width);
                var half = new float[targets.Length];
                var bfloat16 = new float[targets.Length];
                CrossEntropy.LossPerRow(h, targets, half);
                CrossEntropy.LossPerRow(b, targets, bfloat16);
                var gb = new BFloat16[x.Length];
                float summed = CrossEntropy.LossAndGradient(b, targets, gb, new CrossEntropyOptions { Reduction = Reduction.Sum });
                for (int r = 0; r < targets.Length; r++)
                {
                    Close.Scalar(expectedHalf[r], half[r], relative: Tolerance, absolute: 0, what: $"V {v} {width} Half row {r}");
                    Close.Scalar(expectedBFloat16[r], bfloat16[r], relative: Tolerance, absolute: 0, what: $"V {v} {width} bfloat16 row {r}");
                }

                Close.Scalar(expectedBFloat16.Sum(), summed, relative: Tolerance, absolute: 0, what: $"V {v} {width} bfloat16 LossAndGradient");
            }
        }
    }

    [Fact]
    public void LabelSmoothingKeepsTheSmallLoss()
    {
        foreach (int v in Lengths)
        {
            var (x, targets) = Rows(v);
            var o = new CrossEntropyOptions { LabelSmoothing = 1e-7f, Reduction = Reduction.Sum };
            double expected = CrossEntropyReference.Loss(x, targets, o);
            foreach (var width in Simd.Supported())
            {
                using var scope = Simd.Override(width);
                var g = new float[x.Length];
                Close.Scalar(expected, CrossEntropy.LossAndGradient(x, targets, g, o), relative: Tolerance, absolute: 0, what: $"V {v} {width} LossAndGradient");
                Close.Scalar(expected, CrossEntropy.Loss(x, targets, o), relative: Tolerance, absolute: 0, what: $"V {v} {width} Loss");
            }
        }
    }

    [Fact]
    public void SoftCapKeepsTheSmallLoss()
    {
        const float cap = 30f;
        foreach (int v in Lengths)
        {
            // A raw lead of 25 is 20.5 capped. The reference takes the capped logits as the kernels round them, so
            // that only the sum's rounding is measured.
            var (x, targets) = Rows(v, lead: 25f);

            var capped = x.Select(z => VectorMath.SoftCap(z, cap)).ToArray();
            double[] expected = CrossEntropyReference.RowLosses(capped, targets);
            var options = new CrossEntropyOptions { SoftCap = cap, Reduction = Reduction.Sum };
            foreach (var width in Simd.Supported())
            {
                using var scope = Simd.Override(width);
                var losses = new float[targets.Length];
                CrossEntropy.LossPerRow(x, targets, losses, options with { Reduction = Reduction.None });
                var g = new float[x.Length];
                var inPlace = (float[])x.Clone();
                float summed = CrossEntropy.LossAndGradient(x, targets, g, options);
                float summedInPlace = CrossEntropy.LossAndGradient(inPlace, targets, inPlace, options);
                Close.Scalar(expected.Sum(), summed, relative: Tolerance, absolute: 0, what: $"V {v} {width} LossAndGradient");
                Close.Scalar(expected.Sum(), summedInPlace, relative: Tolerance, absolute: 0, what: $"V {v} {width} LossAndGradient in place");
                for (int r = 0; r < targets.Length; r++)
                {
                    string what = $"V {v} {width} row {r} (target {targets[r]})";
                    float zy = capped[(r * v) + targets[r]];
                    Close.Scalar(expected[r], losses[r], relative: Tolerance, absolute: 0, what: $"{what} loss");
                    double u = zy / cap, dzy = double.ExpM1(-expected[r]) * (1 - (u * u));
                    Close.Scalar(dzy, g[(r * v) + targets[r]], relative: Tolerance, absolute: 0, what: $"{what} dz[y]");
                    Close.Scalar(dzy, inPlace[(r * v) + targets[r]], relative: Tolerance, absolute: 0, what: $"{what} dz[y] in place");
                }
            }
        }
    }

    [Fact]
    public void SoftCapKeepsTheSmallLossOfSixteenBitGradients()
    {
        const float cap = 30f;
        foreach (int v in Lengths)
        {
            var (x, targets) = Rows(v, lead: 25f);
            var b = new BFloat16[x.Length];
            BFloat16.ConvertToBFloat16(x, b);
            var widened = new float[x.Length];
            BFloat16.ConvertToSingle(b, widened);
            var h = widened.Select(z => (Half)z).ToArray();
            double expected = CrossEntropyReference.RowLosses(widened.Select(z => VectorMath.SoftCap(z, cap)).ToArray(), targets).Sum();
            var options = new CrossEntropyOptions { SoftCap = cap, Reduction = Reduction.Sum };
            foreach (var width in Simd.Supported())
            {
                using var scope = Simd.Override(width);
                var inPlace = (BFloat16[])b.Clone();
                Close.Scalar(expected, CrossEntropy.LossAndGradient(inPlace, targets, inPlace, options), relative: Tolerance, absolute: 0, what: $"V {v} {width} bfloat16 in place");
                Close.Scalar(expected, CrossEntropy.LossAndGradient(h, targets, new Half[h.Length], options), relative: Tolerance, absolute: 0, what: $"V {v} {width} Half");
            }
        }
    }

    /// <summary>Rows that lead in every place the kernels treat apart: first, middle, last, and the shifted-back tail.</summary>
    private static (float[] Logits, int[] Targets) Rows(int v, float lead = 20f)
    {
        int[] targets = [0, v / 2, v - 1, Math.Max(0, v - 5), Math.Min(v - 1, 130), (v * 7) / 11];
        var rng = new Random(v);
        var x = new float[targets.Length * v];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (float)((rng.NextDouble() * 2) - 1);
        }

        for (int r = 0; r < targets.Length; r++)
        {
            x[(r * v) + targets[r]] = lead;
        }

        return (x, targets);
    }
}
