using Xent.Kernels;
using Xent.Reference;

namespace Xent.Tests.Core;

/// <summary>
/// A confident prediction: one logit 20, the rest in (-1, 1), so p[y] = 0.99992 and the loss, the sum of the other
/// terms exp(z - 20), is 7.8e-5. Beside the max's term 1 each of them (under 6e-9) is under half an ulp, so a float
/// sum that holds the 1 drops them all: the lane holding the max lost its share of the loss (3% at 512 bits, 6% at
/// 256, 13% at 128, 25% at the scalar width; PyTorch 1.13 loses 12% on the same rows). The kernels keep each lane's
/// sum less its max's term, and sum the lanes in double, so the loss and the target's gradient keep 2e-3 of
/// themselves at every width and thread count.
/// </summary>
public class DominantLogitPrecisionTests
{
    private const int V = 32000;
    private const double Tolerance = 2e-3;

    // First, middle, in the last whole chunk, and in the shifted-back last vector's lanes.
    private static readonly int[] Targets = [0, 12345, 31900, V - 3];

    [Fact]
    public void LossPerRowKeepsTheSmallLossAtEveryWidth()
    {
        var (x, targets) = Rows(seed: 1);
        double[] expected = CrossEntropyReference.RowLosses(x, targets);
        foreach (var width in Simd.Supported())
        {
            using var scope = Simd.Override(width);
            foreach (int threads in TestData.ThreadCounts)
            {
                var losses = new float[targets.Length];
                CrossEntropy.LossPerRow(x, targets, losses, new CrossEntropyOptions { MaxDegreeOfParallelism = threads });
                for (int r = 0; r < targets.Length; r++)
                {
                    Close.Scalar(expected[r], losses[r], relative: Tolerance, absolute: 0, what: $"{width} t{threads} row {r}");
                }
            }
        }
    }

    [Fact]
    public void LossAndGradientKeepTheSmallLossAndTheTargetsGradient()
    {
        var (x, targets) = Rows(seed: 2);
        double[] expected = CrossEntropyReference.RowLosses(x, targets);
        int n = targets.Length;
        foreach (var width in Simd.Supported())
        {
            using var scope = Simd.Override(width);
            foreach (int threads in TestData.ThreadCounts)
            {
                var o = new CrossEntropyOptions { MaxDegreeOfParallelism = threads, Reduction = Reduction.Sum };
                var g = new float[x.Length];
                float loss = CrossEntropy.LossAndGradient(x, targets, g, o);
                Close.Scalar(expected.Sum(), loss, relative: Tolerance, absolute: 0, what: $"{width} t{threads} loss");
                for (int r = 0; r < n; r++)
                {
                    // dL/dz[y] = p[y] - 1 = exp(-loss) - 1.
                    double expectedTarget = double.ExpM1(-expected[r]);
                    Close.Scalar(expectedTarget, g[(r * V) + targets[r]], relative: Tolerance, absolute: 0, what: $"{width} t{threads} row {r} dz[y]");
                }
            }
        }
    }

    [Fact]
    public void BFloat16LogitsKeepTheSmallLoss()
    {
        var (x, targets) = Rows(seed: 3);
        var b = new BFloat16[x.Length];
        BFloat16.ConvertToBFloat16(x, b);
        var widened = new float[x.Length];
        BFloat16.ConvertToSingle(b, widened);
        double[] expected = CrossEntropyReference.RowLosses(widened, targets);
        foreach (var width in Simd.Supported())
        {
            using var scope = Simd.Override(width);
            var losses = new float[targets.Length];
            CrossEntropy.LossPerRow(b, targets, losses);
            for (int r = 0; r < targets.Length; r++)
            {
                Close.Scalar(expected[r], losses[r], relative: Tolerance, absolute: 0, what: $"{width} bf16 row {r}");
            }
        }
    }

    [Fact]
    public void TheFusedHeadKeepsTheSmallLossAndTheTargetsGradient()
    {
        // Hidden rows of one 1 (dimension r of D), so that z[r, c] = W[c, r] exactly, and W's column r holds row r's
        // logits: the fused kernel's tiles see the same rows as the tests above.
        const int d = 8;
        var (x, targets) = Rows(seed: 4);
        int n = targets.Length;
        var hidden = new float[n * d];
        var weight = new float[V * d];
        for (int r = 0; r < n; r++)
        {
            hidden[(r * d) + r] = 1f;
            for (int c = 0; c < V; c++)
            {
                weight[(c * d) + r] = x[(r * V) + c];
            }
        }

        double[] expected = CrossEntropyReference.RowLosses(x, targets);
        foreach (var width in Simd.Supported())
        {
            using var scope = Simd.Override(width);
            foreach (int threads in TestData.ThreadCounts)
            {
                var o = new LinearCrossEntropyOptions { CrossEntropy = new CrossEntropyOptions { MaxDegreeOfParallelism = threads, Reduction = Reduction.Sum } };
                var losses = new float[n];
                var dWeight = new float[V * d];
                var gradients = new LinearCrossEntropyGradients(new float[n * d], dWeight);
                LinearCrossEntropy.Gradients(hidden, weight, default, targets, [.. Enumerable.Repeat(1f, n)], gradients, losses, default, o);
                for (int r = 0; r < n; r++)
                {
                    Close.Scalar(expected[r], losses[r], relative: Tolerance, absolute: 0, what: $"{width} t{threads} row {r}");

                    // dL/dW[y, r] = (p[y] - 1) h[r] = exp(-loss) - 1.
                    Close.Scalar(double.ExpM1(-expected[r]), dWeight[(targets[r] * d) + r], relative: Tolerance, absolute: 0, what: $"{width} t{threads} row {r} dW[y]");
                }
            }
        }
    }

    /// <summary>
    /// Under a soft cap the gradient's forward stores each exponential times the cap's derivative, in the single pass
    /// that keeps the small terms (it summed them beside the 1 in float before: 0.5-2% of the loss, 1-7% of dz[y],
    /// at the vector widths). Capped at 50, the leading logit is 19 and the loss 2.1e-4 a row.
    /// </summary>
    [Fact]
    public void SoftCappedLossAndGradientKeepTheSmallLoss()
    {
        var (x, targets) = Rows(seed: 5);
        var o = new CrossEntropyOptions { SoftCap = 50f, Reduction = Reduction.Sum };
        double[] expected = CrossEntropyReference.RowLosses(x, targets, o);
        double[] expectedGradient = CrossEntropyReference.Gradient(x, targets, o);
        var b = new BFloat16[x.Length];
        BFloat16.ConvertToBFloat16(x, b);
        var widened = new float[x.Length];
        BFloat16.ConvertToSingle(b, widened);
        double expectedBf16 = CrossEntropyReference.Loss(widened, targets, o);
        foreach (var width in Simd.Supported())
        {
            using var scope = Simd.Override(width);
            foreach (int threads in TestData.ThreadCounts)
            {
                var ot = o with { MaxDegreeOfParallelism = threads };
                string what = $"{width} t{threads}";
                var g = new float[x.Length];
                Close.Scalar(expected.Sum(), CrossEntropy.LossAndGradient(x, targets, g, ot), relative: Tolerance, absolute: 0, what: $"{what} loss");
                for (int r = 0; r < targets.Length; r++)
                {
                    // (p[y] - 1) times the cap's derivative.
                    int at = (r * V) + targets[r];
                    Close.Scalar(expectedGradient[at], g[at], relative: Tolerance, absolute: 0, what: $"{what} row {r} dz[y]");
                }

                var gb = new BFloat16[b.Length];
                Close.Scalar(expectedBf16, CrossEntropy.LossAndGradient(b, targets, gb, ot), relative: Tolerance, absolute: 0, what: $"{what} bf16 loss");
            }
        }
    }

    /// <summary>
    /// Label smoothing's gradient likewise stores its exponentials in the single pass: the target's dz = p[y] - 1 +
    /// e (1 - 1 / V) keeps p[y]'s small distance from 1 (2.5e-5 of dz[y] lost at 256 bits and 5e-5 at 128 before, when
    /// the two-pass loop summed the terms beside the 1 in float), with class weights too.
    /// </summary>
    [Fact]
    public void SmoothedGradientKeepsTheTargetsSmallDistanceFromOne()
    {
        var (x, targets) = Rows(seed: 6);
        var weights = TestData.Logits(1, V, 7, 0.5f).Select(value => 1.5f + value).ToArray();
        foreach (var o in new[]
        {
            new CrossEntropyOptions { LabelSmoothing = 0.1f, Reduction = Reduction.Sum },
            new CrossEntropyOptions { LabelSmoothing = 0.1f, Reduction = Reduction.Sum, ClassWeights = weights },
        })
        {
            double[] expected = CrossEntropyReference.Gradient(x, targets, o);
            double expectedLoss = CrossEntropyReference.Loss(x, targets, o);
            foreach (var width in Simd.Supported())
            {
                using var scope = Simd.Override(width);
                foreach (int threads in TestData.ThreadCounts)
                {
                    string what = $"{width} t{threads} weights {!o.ClassWeights.IsEmpty}";
                    var g = new float[x.Length];
                    Close.Scalar(expectedLoss, CrossEntropy.LossAndGradient(x, targets, g, o with { MaxDegreeOfParallelism = threads }), relative: 1e-6, absolute: 0, what: $"{what} loss");
                    for (int r = 0; r < targets.Length; r++)
                    {
                        int at = (r * V) + targets[r];
                        Close.Scalar(expected[at], g[at], relative: 5e-6, absolute: 0, what: $"{what} row {r} dz[y]");
                    }
                }
            }
        }
    }

    /// <summary>
    /// Probability targets, one-hot on the leading logit: the loss is the same small sum of terms, which the weighted
    /// exp pass kept beside the max's 1 in float (1-17% of the loss lost, by the width, and up to half of dz[y]) until
    /// it counted the max's term apart. dz[y] = p[y] - 1 was a float difference, within a few ulp of 1, until the column
    /// with p above 1/2 was rewritten in double (held to 2e-5 of itself: <see cref="ProbabilityTargetDominantPrecisionTests"/>).
    /// </summary>
    [Fact]
    public void OneHotProbabilityTargetsKeepTheSmallLoss()
    {
        var (x, targets) = Rows(seed: 7);
        var probabilities = new float[x.Length];
        for (int r = 0; r < targets.Length; r++)
        {
            probabilities[(r * V) + targets[r]] = 1f;
        }

        foreach (var o in new[]
        {
            new CrossEntropyOptions { Reduction = Reduction.Sum },
            new CrossEntropyOptions { LabelSmoothing = 0.1f, Reduction = Reduction.Sum },
        })
        {
            double expectedLoss = CrossEntropyReference.Loss(x, probabilities, V, o);
            double[] expected = CrossEntropyReference.Gradient(x, probabilities, V, o);
            foreach (var width in Simd.Supported())
            {
                using var scope = Simd.Override(width);
                foreach (int threads in TestData.ThreadCounts)
                {
                    var ot = o with { MaxDegreeOfParallelism = threads };
                    string what = $"{width} t{threads} smoothing {o.LabelSmoothing}";
                    Close.Scalar(expectedLoss, CrossEntropy.Loss(x, probabilities, V, ot), relative: 2e-5, absolute: 0, what: $"{what} Loss");
                    var g = new float[x.Length];
                    Close.Scalar(expectedLoss, CrossEntropy.LossAndGradient(x, probabilities, V, g, ot), relative: 2e-5, absolute: 0, what: $"{what} LossAndGradient");
                    for (int r = 0; r < targets.Length; r++)
                    {
                        int at = (r * V) + targets[r];
                        Close.Scalar(expected[at], g[at], relative: 0, absolute: 4e-7, what: $"{what} row {r} dz[y]");
                    }
                }
            }
        }
    }

    /// <summary>
    /// A vocabulary masked down to the target alone: p[y] = 1 and the loss is exactly 0, never below it (a float sum
    /// of the masked terms' rounding once gave -2.4e-7 for the mean of such rows).
    /// </summary>
    [Theory]
    [InlineData(float.NegativeInfinity)]
    [InlineData(float.MinValue)]
    [InlineData(-1e4f)]
    public void AVocabularyMaskedToTheTargetHasALossOfExactlyZero(float mask)
    {
        foreach (int v in (int[])[1024, 4095, 32768, 128256])
        {
            const int n = 4;
            var random = new Random(v);
            var x = new float[n * v];
            var targets = new int[n];
            Array.Fill(x, mask);
            for (int r = 0; r < n; r++)
            {
                targets[r] = random.Next(v);
                x[(r * v) + targets[r]] = (float)((random.NextDouble() * 10) - 5);
            }

            var b = new BFloat16[x.Length];
            BFloat16.ConvertToBFloat16(x, b);
            foreach (var width in Simd.Supported())
            {
                using var scope = Simd.Override(width);
                var o = new CrossEntropyOptions { Reduction = Reduction.Sum };
                string what = $"mask {mask}, V {v}, {width}";
                Assert.True(CrossEntropy.Loss(x, targets, o) == 0f, $"{what}: Loss {CrossEntropy.Loss(x, targets, o)}");
                Assert.True(CrossEntropy.Loss(b, targets, o) == 0f, $"{what}: bfloat16 Loss {CrossEntropy.Loss(b, targets, o)}");
                var losses = new float[n];
                CrossEntropy.LossPerRow(x, targets, losses);
                Assert.All(losses, l => Assert.True(l == 0f, $"{what}: LossPerRow {l}"));
                var g = new float[x.Length];
                Assert.True(CrossEntropy.LossAndGradient(x, targets, g, o) == 0f, $"{what}: LossAndGradient");
                Assert.All(targets, (y, r) => Assert.True(g[(r * v) + y] == 0f, $"{what}: dz[y] {g[(r * v) + y]}"));
            }
        }
    }

    private static (float[] Logits, int[] Targets) Rows(int seed)
    {
        var random = new Random(seed);
        var x = new float[Targets.Length * V];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (float)((random.NextDouble() * 2) - 1);
        }

        for (int r = 0; r < Targets.Length; r++)
        {
            x[(r * V) + Targets[r]] = 20f;
        }

        return (x, (int[])Targets.Clone());
    }
}
