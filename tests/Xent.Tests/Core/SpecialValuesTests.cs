using Xent.Reference;

namespace Xent.Tests.Core;

/// <summary>The spec's "Special values" section and worked examples, for every vector width and both partitions.</summary>
public class SpecialValuesTests
{

    // 37: a remainder at every width; 20000: several blocks, split over threads when it is the only row.
    private static readonly int[] Vocabularies = [37, 1001, 20000]; // 1001: a shifted-back last vector at every width

    private static float[] Row(int v, int seed) => TestData.Logits(1, v, seed);

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void AllIgnored_MeanIsNaN_SumIsZero_GradientIsZero(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        foreach (int v in Vocabularies)
        {
            var x = TestData.Logits(3, v, 1);
            x[5] = float.NaN; // ignored rows contribute nothing, not even their NaN
            int[] y = [-100, -100, -100];
            Assert.True(float.IsNaN(CrossEntropy.Loss(x, y)));
            Assert.Equal(0f, CrossEntropy.Loss(x, y, new CrossEntropyOptions { Reduction = Reduction.Sum }));
            var g = Enumerable.Repeat(7f, x.Length).ToArray();
            Assert.True(float.IsNaN(CrossEntropy.LossAndGradient(x, y, g)));
            Assert.All(g, value => Assert.Equal(0f, value));
            var r = new float[3] { 1, 1, 1 };
            CrossEntropy.LossPerRow(x, y, r);
            Assert.Equal([0f, 0f, 0f], r);
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void NegativeInfinityLogitsAreMasked(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        foreach (int v in Vocabularies)
        {
            foreach (int threads in TestData.ThreadCounts)
            {
                var o = new CrossEntropyOptions { MaxDegreeOfParallelism = threads };
                var x = Row(v, 2);
                // A whole block of -inf (columns 0..4095 when V = 20000) and scattered ones.
                for (int c = 0; c < v - 1; c++)
                {
                    if (v > 4096 ? c < 4096 || c % 7 == 0 : c % 2 == 0)
                    {
                        x[c] = float.NegativeInfinity;
                    }
                }

                int[] y = [v - 1];
                double expected = CrossEntropyReference.Loss(x, y);
                Assert.True(double.IsFinite(expected));
                var g = new float[v];
                Close.Scalar(expected, CrossEntropy.LossAndGradient(x, y, g, o), what: $"V={v}");
                for (int c = 0; c < v; c++)
                {
                    if (float.IsNegativeInfinity(x[c]))
                    {
                        Assert.Equal(0f, g[c]);
                    }
                }

                // With label smoothing the -inf logits make the smoothing term, and the loss, +inf (as PyTorch).
                Assert.Equal(float.PositiveInfinity, CrossEntropy.Loss(x, y, o with { LabelSmoothing = 0.1f }));
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void MaskedRowsWhoseOnlyLogitsAreNearMinusFloatMax(VectorWidth width)
    {
        // Blocks of -inf beside logits of -2e38: the loss is finite and the masked columns' gradient is 0, not NaN.
        using var scope = Simd.Override(width);
        const int v = 9000;
        var x = new float[2 * v];
        Array.Fill(x, float.NegativeInfinity);
        x[8500] = -2e38f;
        x[v + 5000] = -2e38f;
        x[v + 8999] = -2.5e38f;
        int[] y = [8500, 5000];
        foreach (int threads in TestData.ThreadCounts)
        {
            var o = new CrossEntropyOptions { MaxDegreeOfParallelism = threads, Reduction = Reduction.Sum };
            var g = new float[x.Length];
            Close.Scalar(CrossEntropyReference.Loss(x, y, o), CrossEntropy.LossAndGradient(x, y, g, o), what: $"t{threads}");
            Close.Gradient(CrossEntropyReference.Gradient(x, y, o), g, v, what: $"t{threads}");
            Assert.All(g, value => Assert.True(float.IsFinite(value)));
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void TargetLogitNegativeInfinity_LossIsPositiveInfinity(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        foreach (int v in Vocabularies)
        {
            var x = Row(v, 3);
            x[v / 2] = float.NegativeInfinity;
            Assert.Equal(float.PositiveInfinity, CrossEntropy.Loss(x, [v / 2]));
            var r = new float[1];
            CrossEntropy.LossPerRow(x, [v / 2], r);
            Assert.Equal(float.PositiveInfinity, r[0]);
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void ProbabilityTargets_FullSmoothing_MaskedClassWithTarget_LossIsPositiveInfinity(VectorWidth width)
    {
        // At e = 1, t' = e / C alone: a -inf logit makes -sum t' log p +inf (as PyTorch), whatever t is there; the
        // (1 - e) t part is absent, not 0 x -inf (NaN). The gradient stays finite: p - 1 / C.
        using var scope = Simd.Override(width);
        foreach (int v in Vocabularies)
        {
            var x = Row(v, 4);
            x[v / 2] = float.NegativeInfinity;
            var t = new float[v];
            t[v / 2] = 0.75f;
            t[0] = 0.25f;
            foreach (var o in new[] { new CrossEntropyOptions { LabelSmoothing = 1f }, new CrossEntropyOptions { LabelSmoothing = 1f, ClassWeights = TestData.Weights(v, 4) } })
            {
                var r = new float[1];
                CrossEntropy.LossPerRow(x, t, v, r, o);
                Assert.Equal(float.PositiveInfinity, r[0]);
                var g = new float[v];
                Assert.Equal(float.PositiveInfinity, CrossEntropy.LossAndGradient(x, t, v, g, o));
                Assert.All(g, value => Assert.True(float.IsFinite(value)));
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void NaNRows(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        foreach (int v in Vocabularies)
        {
            foreach (int threads in TestData.ThreadCounts)
            {
                var o = new CrossEntropyOptions { MaxDegreeOfParallelism = threads };
                var allNegInf = Enumerable.Repeat(float.NegativeInfinity, v).ToArray();
                var withNaN = Row(v, 4);
                withNaN[v - 3] = float.NaN;
                var withPosInf = Row(v, 5);
                withPosInf[v / 3] = float.PositiveInfinity;
                foreach (var (x, name) in new[] { (allNegInf, "all -inf"), (withNaN, "NaN"), (withPosInf, "+inf") })
                {
                    Assert.True(float.IsNaN(CrossEntropy.Loss(x, [1], o)), $"{name} V={v}");
                    var lse = new float[1];
                    CrossEntropy.LossPerRow(x, [1], new float[1], lse, o);
                    Assert.True(float.IsNaN(lse[0]), $"{name} lse V={v}");
                    Assert.True(double.IsNaN(CrossEntropyReference.Loss(x, [1])), $"the reference agrees: {name}");

                    // Label smoothing (with and without class weights) sums the logits too: still NaN.
                    var smoothing = o with { LabelSmoothing = 0.1f };
                    var weighted = smoothing with { ClassWeights = Enumerable.Repeat(0.5f, v).ToArray() };
                    Assert.True(float.IsNaN(CrossEntropy.Loss(x, [1], smoothing)), $"{name} smoothing V={v}");
                    Assert.True(float.IsNaN(CrossEntropy.Loss(x, [1], weighted)), $"{name} weighted smoothing V={v}");
                    Assert.True(double.IsNaN(CrossEntropyReference.Loss(x, [1], smoothing)), $"the reference agrees: {name} smoothing");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void LargeLogitsDoNotOverflow(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        foreach (int v in Vocabularies)
        {
            var x = TestData.Logits(2, v, 6).Select(value => value * 1000f).ToArray();
            int[] y = [3, v - 2];
            Close.Scalar(CrossEntropyReference.Loss(x, y), CrossEntropy.Loss(x, y), what: $"x1000 V={v}");
            var g = new float[x.Length];
            CrossEntropy.LossAndGradient(x, y, g);
            Close.Gradient(CrossEntropyReference.Gradient(x, y), g, v, what: $"x1000 V={v}");
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void VocabularyOfOne_LossAndGradientAreZero(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        float[] x = [3.5f, -200f, 0f];
        int[] y = [0, 0, 0];
        var g = new float[3] { 1, 1, 1 };
        Assert.Equal(0f, CrossEntropy.LossAndGradient(x, y, g));
        Assert.Equal([0f, 0f, 0f], g);
    }

    [Fact]
    public void NoRows()
    {
        float[] none = [];
        int[] noTargets = [];
        Assert.True(float.IsNaN(CrossEntropy.Loss(none, noTargets)));
        Assert.Equal(0f, CrossEntropy.Loss(none, noTargets, new CrossEntropyOptions { Reduction = Reduction.Sum }));
        Assert.True(float.IsNaN(CrossEntropy.LossAndGradient(none, noTargets, none)));
        CrossEntropy.LossPerRow(none, noTargets, none);
        Assert.True(float.IsNaN(CrossEntropy.Loss(none, none, 5)));
    }

    [Fact]
    public void WorkedExample_SoftmaxTarget1()
    {
        // softmax = [0.231, 0.628, 0.141]: the logits are the log-probabilities themselves.
        float[] x = [MathF.Log(0.231f), MathF.Log(0.628f), MathF.Log(0.141f)];
        foreach (var width in Simd.Supported())
        {
            using var scope = Simd.Override(width);
            Assert.Equal(-Math.Log(0.628), CrossEntropy.Loss(x, [1]), 4);
            Assert.Equal(0.4652, CrossEntropy.Loss(x, [1]), 4);
        }
    }

    [Fact]
    public void WorkedExample_Probability001()
    {
        // Target class at probability 0.01, the other 0.99 spread over 99 classes.
        var x = Enumerable.Repeat(MathF.Log(0.01f), 100).ToArray();
        Assert.Equal(4.605, CrossEntropy.Loss(x, [42]), 3);
    }

    [Fact]
    public void WorkedExample_SeedShape()
    {
        // [2, 128, 50000] flattened to 256 rows: one loss, the mean over the 256 positions.
        const int rows = 256, v = 50000;
        var x = TestData.Logits(rows, v, 7);
        var y = TestData.Targets(rows, v, 7);
        var r = new float[rows];
        CrossEntropy.LossPerRow(x, y, r);
        float loss = CrossEntropy.Loss(x, y);
        Close.Scalar(r.Select(value => (double)value).Average(), loss);
        Close.Scalar(CrossEntropyReference.Loss(x, y), loss);
    }
}
