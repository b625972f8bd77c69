using Xent.Reference;

namespace Xent.Tests.Core;

/// <summary>
/// CrossEntropy's dL/dlse input (a caller's function of lse flowing into the logits gradient) and its loss in parts,
/// against the float64 reference, on the row path and the split-row path, every vector width and thread count.
/// </summary>
public class LseGradientAndPartsTests
{

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void LseGradient_AddsItsSoftmaxTerm_EqualsFloat64Reference(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        var rng = new Random(3);
        // Many rows (row path) and few long rows over 2 threads (rows split across threads).
        foreach (var (n, v) in new[] { (37, 1000), (3, 20000) })
        {
            var logits = RandomArray(rng, n * v, 4);
            logits[7] = float.NegativeInfinity;
            var y = Enumerable.Range(0, n).Select(i => i % 5 == 1 ? -100 : rng.Next(8, v)).ToArray();
            var gLse = RandomArray(rng, n, 1);
            var up = RandomArray(rng, n, 1);
            float[]? first = null;
            foreach (int threads in new[] { 1, 2 })
            {
                var none = new CrossEntropyOptions { Reduction = Reduction.None, ZLoss = 1e-3f, SoftCap = 6f, MaxDegreeOfParallelism = threads };
                var g = new float[n * v];
                CrossEntropy.Gradient(logits, y, up, g, none, gLse);
                var expected = Add(CrossEntropyReference.Gradient(logits, y, up.Select(x => (double)x).ToArray(), none), LseTerm(logits, y, gLse, n, v, none));
                Close.Gradient(expected, g, v, what: $"None, N {n}, V {v}, {threads} threads");
                first ??= g;
                Assert.Equal(first, g);

                var mean = new CrossEntropyOptions { LabelSmoothing = 0.1f, MaxDegreeOfParallelism = threads };
                var gm = new float[n * v];
                float loss = CrossEntropy.LossAndGradient(logits, y, gm, 0.5f, default, mean, gLse);
                Close.Scalar(CrossEntropyReference.Loss(logits, y, mean), loss);
                Close.Gradient(Add(CrossEntropyReference.Gradient(logits, y, mean, 0.5), LseTerm(logits, y, gLse, n, v, mean)), gm, v, what: "Mean");
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void LossWithParts_SplitsCrossEntropyAndZLoss_AsTheFusedHead(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        var rng = new Random(4);
        int n = 50, d = 12, v = 300;
        var h = RandomArray(rng, n * d, 1);
        var w = RandomArray(rng, v * d, 1);
        var y = Enumerable.Range(0, n).Select(i => i % 7 == 0 ? -100 : rng.Next(v)).ToArray();
        var logits = new float[n * v];
        for (int t = 0; t < n; t++)
        {
            for (int c = 0; c < v; c++)
            {
                double s = 0;
                for (int k = 0; k < d; k++)
                {
                    s += (double)h[(t * d) + k] * w[(c * d) + k];
                }

                logits[(t * v) + c] = (float)s;
            }
        }

        foreach (var reduction in new[] { Reduction.Mean, Reduction.Sum })
        {
            var o = new CrossEntropyOptions { Reduction = reduction, ZLoss = 1e-2f, LabelSmoothing = 0.05f };
            var parts = CrossEntropy.LossWithParts(logits, y, o);
            Assert.Equal(CrossEntropy.Loss(logits, y, o), parts.Total);
            Close.Scalar(CrossEntropyReference.Loss(logits, y, o with { ZLoss = 0 }), parts.CrossEntropy, what: "cross-entropy part");
            var lse = CrossEntropyReference.LogSumExp(logits, n);
            var kept = Enumerable.Range(0, n).Where(t => y[t] != o.IgnoreIndex).ToArray();
            double z = kept.Sum(t => o.ZLoss * lse[t] * lse[t]) / (reduction == Reduction.Mean ? kept.Length : 1);
            Close.Scalar(z, parts.ZLoss, what: "z-loss part");
            var fused = LinearCrossEntropy.LossWithParts(h, w, [], y, o);
            Close.Scalar(parts.CrossEntropy, fused.CrossEntropy, what: "fused cross-entropy part");
            Close.Scalar(parts.ZLoss, fused.ZLoss, what: "fused z-loss part");
        }

        var allIgnored = CrossEntropy.LossWithParts(logits, Enumerable.Repeat(-100, n).ToArray(), new CrossEntropyOptions { ZLoss = 1e-3f });
        Assert.True(float.IsNaN(allIgnored.Total) && float.IsNaN(allIgnored.CrossEntropy) && float.IsNaN(allIgnored.ZLoss));
    }

    [Fact]
    public void LossWithParts_KeptRowsOfZeroWeight_CrossEntropyPartIsNaN_ZLossPartIsFinite()
    {
        // Mean divides the cross-entropy terms by the kept weight (0 / 0 here, as PyTorch) and the z-loss terms by
        // the kept count (2): that part stays finite.
        float[] logits = [1, 2, 3, 0.5f, 1, -1];
        int[] y = [1, 2];
        var o = new CrossEntropyOptions { ClassWeights = new float[] { 1, 0, 0 }, ZLoss = 0.1f };
        var lse = CrossEntropyReference.LogSumExp(logits, 2);
        double z = 0.1 * ((lse[0] * lse[0]) + (lse[1] * lse[1])) / 2;
        var parts = CrossEntropy.LossWithParts(logits, y, o);
        Assert.True(float.IsNaN(parts.Total) && float.IsNaN(parts.CrossEntropy));
        Close.Scalar(z, parts.ZLoss, what: "z-loss part");

        // The fused head on the same logits: h W^T with W the 3 x 3 identity.
        var fused = LinearCrossEntropy.LossWithParts(logits, [1, 0, 0, 0, 1, 0, 0, 0, 1], [], y, o);
        Assert.True(float.IsNaN(fused.CrossEntropy));
        Close.Scalar(z, fused.ZLoss, what: "fused z-loss part");
    }

    /// <summary>
    /// exp(float(lse) - lse), the correction folded into each row's multiplier of p, is taken as 1 + x + x^2 / 2 where
    /// x is under 2^-18 (a short row's call of Math.Exp saved): within an ulp of Math.Exp there, as it is beyond.
    /// </summary>
    [Fact]
    public void FloatCorrection_IsWithinAnUlpOfMathExp()
    {
        var random = new Random(11);
        for (int i = 0; i < 200_000; i++)
        {
            double max = ((random.NextDouble() * 2) - 1) * Math.Pow(10, (random.NextDouble() * 9) - 3);
            double logSum = random.NextDouble() * 12;
            var parts = new Xent.Kernels.LogSumExpParts((float)max, logSum);
            double lse = (float)max + logSum;
            double expected = Math.Exp(((float)lse - (double)(float)max) - logSum);
            double actual = parts.FloatCorrection;
            Assert.True(Math.Abs(actual - expected) <= Math.BitIncrement(expected) - expected, $"max {max}, log s {logSum}: {actual} against {expected}");
        }
    }

    [Fact]
    public void LseGradient_OfTheWrongLength_Throws_NamingIt()
    {
        var g = new float[6];
        var e = Assert.Throws<ArgumentException>(() => CrossEntropy.Gradient(new float[6], [0, 1], new float[2], g, null, new float[3]));
        Assert.Equal("logSumExpGradient", e.ParamName);
    }

    // g_lse[n] p[n, c] cap'(x) for kept rows.
    internal static double[] LseTerm(float[] logits, int[] y, float[] gLse, int n, int v, CrossEntropyOptions o)
    {
        var lse = CrossEntropyReference.LogSumExp(logits, n, o.SoftCap);
        var term = new double[n * v];
        for (int t = 0; t < n; t++)
        {
            for (int c = 0; c < v && y[t] != o.IgnoreIndex; c++)
            {
                double x = logits[(t * v) + c];
                double z = o.SoftCap > 0 ? o.SoftCap * Math.Tanh(x / o.SoftCap) : x;
                double cap = o.SoftCap > 0 ? 1 - ((z / o.SoftCap) * (z / o.SoftCap)) : 1;
                term[(t * v) + c] = gLse[t] * Math.Exp(z - lse[t]) * cap;
            }
        }

        return term;
    }

    internal static double[] Add(double[] x, double[] y) => x.Select((a, i) => a + y[i]).ToArray();

    private static float[] RandomArray(Random rng, int length, float scale)
    {
        var x = new float[length];
        for (int i = 0; i < length; i++)
        {
            x[i] = (float)((rng.NextDouble() * 2) - 1) * scale;
        }

        return x;
    }
}
