using Xent.Reference;

namespace Xent.Tests.Core;

/// <summary>
/// Probability targets' loss is w t lse - w t z per row: both sums must hold more than float's accuracy, or the
/// difference loses it (uniform targets over a large vocabulary; logits with a common offset; a -inf logit under
/// label smoothing).
/// </summary>
public class ProbabilityTargetAccuracyTests
{
    private const int V = 32000;

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void UniformTargetsOverALargeVocabulary_AreAccurateToAFewUlp(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        var x = TestData.Logits(2, V, 5, scale: 0.7f);
        var t = Enumerable.Repeat(1f / V, x.Length).ToArray();
        // Every gradient entry p - t cancels here (p ~ t): held to 1e-5 of the row's largest, not 1e-6.
        Check(x, t, new CrossEntropyOptions(), relative: 1e-6, gradientFloor: 1e-5);
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void LogitsWithACommonOffset_DoNotCancel(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        foreach (float offset in new[] { 100f, 1e4f, -3e5f })
        {
            var x = TestData.Logits(2, V, 6).Select(v => v + offset).ToArray();
            var t = TestData.Probabilities(2, V, 6);
            // The gradient's entries are differences K p - w t', as accurate as their terms: at an offset of 3e5 the
            // scalar path's were off by up to 7e-4 of an entry that cancelled. The gradient is held to the default
            // tolerance where the logits' own ulp is at most 1/128.
            bool gradient = Math.Abs(offset) <= 1e4f;
            Check(x, t, new CrossEntropyOptions(), relative: 1e-6, $"offset {offset}", gradient);
            Check(x, t, new CrossEntropyOptions { LabelSmoothing = 0.1f }, relative: 1e-6, $"offset {offset}, smoothed", gradient);
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void MinusInfinityLogit_WithoutTargetMass_UnderSmoothing_IsPlusInfinity(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        foreach (int v in new[] { 4, 37, 1001 })
        {
            var x = TestData.Logits(1, v, 7);
            var t = new float[v];
            t[0] = 1f;
            x[1] = float.NegativeInfinity; // t = 0 there, but t' = e / C is not: -t' log p = +inf
            var smoothed = new CrossEntropyOptions { LabelSmoothing = 0.1f };
            Assert.Equal(double.PositiveInfinity, CrossEntropyReference.Loss(x, t, v, smoothed));
            Assert.Equal(float.PositiveInfinity, CrossEntropy.Loss(x, t, v, smoothed));
            Assert.Equal(float.PositiveInfinity, CrossEntropy.LossAndGradient(x, t, v, new float[v], smoothed));
            var losses = new float[1];
            CrossEntropy.LossPerRow(x, t, v, losses, smoothed);
            Assert.Equal(float.PositiveInfinity, losses[0]);

            // Without smoothing the class adds 0 x log 0: NaN in PyTorch and in the reference alike.
            Assert.True(double.IsNaN(CrossEntropyReference.Loss(x, t, v)));
            Assert.True(float.IsNaN(CrossEntropy.Loss(x, t, v)));
        }
    }

    private static void Check(float[] x, float[] t, CrossEntropyOptions options, double relative, string what = "", bool checkGradient = true, double gradientFloor = 1e-6)
    {
        int rows = x.Length / V;
        var expectedRows = CrossEntropyReference.RowLosses(x, t, V, options);
        var losses = new float[rows];
        foreach (int threads in TestData.ThreadCounts)
        {
            var o = options with { MaxDegreeOfParallelism = threads };
            CrossEntropy.LossPerRow(x, t, V, losses, o);
            Close.Vector(expectedRows, losses, relative, absolute: 0, what: $"{what} rows t{threads}");
            double expected = CrossEntropyReference.Loss(x, t, V, o);
            Close.Scalar(expected, CrossEntropy.Loss(x, t, V, o), relative, absolute: 0, what: $"{what} loss t{threads}");
            var gradient = new float[x.Length];
            Close.Scalar(expected, CrossEntropy.LossAndGradient(x, t, V, gradient, o), relative, absolute: 0, what: $"{what} loss (gradient) t{threads}");
            if (checkGradient)
            {
                Close.Gradient(CrossEntropyReference.Gradient(x, t, V, o), gradient, V, floor: gradientFloor, what: $"{what} gradient t{threads}");
            }
        }
    }
}
