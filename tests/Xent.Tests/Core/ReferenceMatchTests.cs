namespace Xent.Tests.Core;

/// <summary>
/// Every path against the float64 reference, for every vector width and thread counts 1, 2 and 7 (looped inside
/// <see cref="PathChecks"/>), on V = 0..256 and on language-model vocabularies.
/// </summary>
public class ReferenceMatchTests
{
    // Options rotate with V so that every option meets every remainder length (V mod 4, 8, 16) over the run.
    private static CrossEntropyOptions Rotating(int v) => (v % 4) switch
    {
        0 => new CrossEntropyOptions(),
        1 => new CrossEntropyOptions { LabelSmoothing = 0.1f, ClassWeights = TestData.Weights(v, v) },
        2 => new CrossEntropyOptions { ZLoss = 1e-3f, SoftCap = 5f },
        _ => new CrossEntropyOptions { LabelSmoothing = 0.2f, ZLoss = 1e-2f, SoftCap = 3f, ClassWeights = TestData.Weights(v, v), IgnoreIndex = 1 },
    };

    [Theory]
    [InlineData(0, 64)]
    [InlineData(65, 128)]
    [InlineData(129, 192)]
    [InlineData(193, 256)]
    public void EveryVocabularyFrom0To256(int first, int last)
    {
        if (first == 0)
        {
            PathChecks.ClassIndex(Array.Empty<float>(), Array.Empty<int>(), new CrossEntropyOptions(), "N=0");
            first = 1;
        }

        for (int v = first; v <= last; v++)
        {
            int rows = 1 + (v % 3);
            var o = Rotating(v);
            PathChecks.ClassIndex(TestData.Logits(rows, v, v), TestData.Targets(rows, v, v, ignoreEvery: 3, ignoreIndex: o.IgnoreIndex), o, $"V={v}");
        }
    }

    [Fact]
    public void ProbabilityTargetsFrom1To130()
    {
        for (int v = 1; v <= 130; v++)
        {
            int rows = 1 + (v % 3);
            var o = (v % 3) switch
            {
                0 => new CrossEntropyOptions(),
                1 => new CrossEntropyOptions { LabelSmoothing = 0.1f, ClassWeights = TestData.Weights(v, v) },
                _ => new CrossEntropyOptions { ZLoss = 1e-3f, SoftCap = 4f, LabelSmoothing = 0.05f },
            };
            PathChecks.Probabilities(TestData.Logits(rows, v, v), TestData.Probabilities(rows, v, v), v, o, $"V={v}");
        }
    }

    [Fact]
    public void RowsThatRiseFallAndStartWithMinusInfinityMoveTheSinglePassShift()
    {
        // The single-pass loop raises its lanes' shift only when a chunk exceeds it by more than 1: steep ramps raise
        // it every chunk, gentle ones leave exps above the shift, a falling row never raises it after the first chunk.
        const int v = 5000;
        float[] slopes = [0.01f, 0.003f, -0.01f, 0.03f, 0f];
        var logits = new float[(slopes.Length + 1) * v];
        for (int r = 0; r < slopes.Length; r++)
        {
            for (int c = 0; c < v; c++)
            {
                logits[(r * v) + c] = (slopes[r] * c) + (0.25f * MathF.Sin(c));
            }
        }

        for (int c = 0; c < v; c++)
        {
            logits[(slopes.Length * v) + c] = c < 3000 ? float.NegativeInfinity : 0.002f * c;
        }

        var targets = new[] { 4999, 17, 0, 4000, 2500, 4321 };
        PathChecks.ClassIndex(logits, targets, new CrossEntropyOptions(), "ramps");
        PathChecks.ClassIndex(logits, targets, new CrossEntropyOptions { LabelSmoothing = 0.1f }, "ramps, smoothing");
    }

    [Fact]
    public void RowsOfMaskedLogitsKeepTheirLogSum()
    {
        // Padding rows masked with -1e30 or float.MinValue but not ignored: lse = m + log s rounds to m in double at
        // that size, and lse - z or exp(z - lse) then lost log s (loss 0, p = 1 in every column). The answer is the
        // uniform distribution over the tied columns: ln V (or ln of their count) and p = 1 / V. At -1e13 the double
        // sum keeps only part of log s.
        const int v = 1000;
        var logits = new float[4 * v];
        for (int c = 0; c < v; c++)
        {
            logits[c] = -1e30f;
            logits[v + c] = float.MinValue;
            logits[(2 * v) + c] = -1e13f + (c % 7 == 0 ? 0 : -1e7f);
            logits[(3 * v) + c] = c < 10 ? -3e38f : float.NegativeInfinity;
        }

        PathChecks.ClassIndex(logits, [0, 999, 7, 3], new CrossEntropyOptions(), "masked rows");
        PathChecks.ClassIndex(logits, [0, 999, 7, 3], new CrossEntropyOptions { ZLoss = 1e-40f }, "masked rows, z-loss");
        var losses = new float[4];
        CrossEntropy.LossPerRow(logits, [0, 999, 7, 3], losses);
        Assert.Equal(MathF.Log(v), losses[0], 5);
        Assert.Equal(MathF.Log(10), losses[3], 5);
        PathChecks.Probabilities(logits, TestData.Probabilities(4, v, 3), v, new CrossEntropyOptions(), "masked rows, soft");
    }

    [Fact]
    public void RowsFarFromZeroKeepTheirAccuracyAndSign()
    {
        // The single-pass loop keeps its shift in log2 units (z log2 e): far from 0 it must not lose the sum's
        // accuracy (a rounded shift would skew every term alike), and beyond 2^21, where the shift is too coarse,
        // and below -2.4e38, where z log2 e overflows (the second, natural-units pass), it must still give the right
        // sums. (A row of only -inf but one -2e38 is left out: the gradient path gives NaN there, as it did before.)
        const int v = 5000;
        const int rows = 6;
        var logits = new float[rows * v];
        for (int c = 0; c < v; c++)
        {
            float wave = MathF.Sin(c);
            logits[c] = 1000f + wave;
            logits[v + c] = -5000f + (3f * wave);
            logits[(2 * v) + c] = -1e36f * (1f + (0.5f * wave));
            logits[(3 * v) + c] = -3e38f;
            logits[(4 * v) + c] = float.MinValue;
            logits[(5 * v) + c] = c < 2500 ? -3e38f : wave;
        }

        var targets = new[] { 4999, 17, 100, 2500, 3, 4000 };
        PathChecks.ClassIndex(logits, targets, new CrossEntropyOptions(), "far from zero");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(50257)]
    [InlineData(128256)]
    [InlineData(151936)]
    public void LanguageModelVocabularies(int v)
    {
        // One row takes the in-row split path when threads > 1; two rows take the row path.
        foreach (int rows in v > 1000 ? new[] { 1, 2 } : new[] { 5 })
        {
            var o = new CrossEntropyOptions { LabelSmoothing = v % 2 == 0 ? 0.1f : 0f, ZLoss = 1e-4f };
            PathChecks.ClassIndex(TestData.Logits(rows, v, v), TestData.Targets(rows, v, v), o, $"{rows}x{v}");
        }
    }

    [Fact]
    public void LargeVocabularyWithSoftCapWeightsAndProbabilities()
    {
        const int v = 50257;
        var x = TestData.Logits(1, v, 9, scale: 20f);
        var o = new CrossEntropyOptions { SoftCap = 30f, ClassWeights = TestData.Weights(v, 9), LabelSmoothing = 0.1f };
        PathChecks.ClassIndex(x, TestData.Targets(1, v, 9), o, "1x50257");
        PathChecks.Probabilities(x, TestData.Probabilities(1, v, 9), v, o, "1x50257");
    }
}
