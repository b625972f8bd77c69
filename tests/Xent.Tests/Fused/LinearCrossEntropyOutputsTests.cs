using Xent.Reference;
using Xent.Tests.Core;

namespace Xent.Tests.Fused;

/// <summary>
/// The fused head's outputs besides the loss: dL/dlse as an input, the loss in parts, log-probabilities of given
/// tokens with their backward, and the softmax entropy; each against float64 references and finite differences.
/// </summary>
public class LinearCrossEntropyOutputsTests
{
    private const double Relative = 1e-5;

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void LseGradient_AddsItsSoftmaxTerm_EqualsFloat64Reference(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        var rng = new Random(5);
        int n = 131, d = 37, v = 1100;
        var (h, w, b) = (RandomArray(rng, n * d, 1), RandomArray(rng, v * d, 0.5f), RandomArray(rng, v, 1));
        var y = Enumerable.Range(0, n).Select(i => i % 9 == 0 ? -100 : rng.Next(v)).ToArray();
        var gLse = RandomArray(rng, n, 1);
        foreach (var ce in new CrossEntropyOptions[]
        {
            new() { Reduction = Reduction.None, ZLoss = 1e-3f, SoftCap = 5f },
            new() { Reduction = Reduction.Mean, LabelSmoothing = 0.1f },
        })
        {
            var up = RandomArray(rng, n, 1);
            var reference = new LinearReference(h, w, b, y, ce, ce.Reduction == Reduction.None ? up : null, 0.75f);
            var (dz, bound) = LseTerms(reference.Logits, reference.Lse, y, gLse, n, v, ce);
            var dh = new float[n * d];
            var dw = new float[v * d];
            var db = new float[v];
            if (ce.Reduction == Reduction.None)
            {
                LinearCrossEntropy.Gradients(h, w, b, y, up, new(dh, dw, db), options: ce, logSumExpGradient: gLse);
            }
            else
            {
                float loss = LinearCrossEntropy.LossAndGradients(h, w, b, y, new(dh, dw, db), 0.75f, options: ce, logSumExpGradient: gLse);
                LinearReference.AssertClose(reference.Loss, loss, Relative, "loss (dL/dlse does not change it)");
            }

            var extra = Products(dz, bound, h, w, n, d, v);
            LinearReference.AssertGradient(Sum(reference.DHidden, extra.DHidden), Sum(reference.DHiddenBound, extra.DHiddenBound), dh, Relative, "dHidden");
            LinearReference.AssertGradient(Sum(reference.DWeight, extra.DWeight), Sum(reference.DWeightBound, extra.DWeightBound), dw, Relative, "dWeight");
            LinearReference.AssertGradient(Sum(reference.DBias, extra.DBias), Sum(reference.DBiasBound, extra.DBiasBound), db, Relative, "dBias");
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void LseGradient_MatchesFloat64FiniteDifferences(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        var rng = new Random(7);
        int n = 4, d = 3, v = 7;
        var (h, w, b) = (RandomArray(rng, n * d, 1), RandomArray(rng, v * d, 1), RandomArray(rng, v, 1));
        int[] y = [1, -100, 6, 0];
        var ce = new CrossEntropyOptions
        {
            Reduction = Reduction.None,
            LabelSmoothing = 0.1f,
            ZLoss = 0.01f,
            SoftCap = 2f,
            ClassWeights = RandomArray(rng, v, 0.5f).Select(x => x + 1).ToArray(),
        };
        var up = RandomArray(rng, n, 1);
        var gLse = RandomArray(rng, n, 2);
        var (dh, dw, db) = (new float[n * d], new float[v * d], new float[v]);
        LinearCrossEntropy.Gradients(h, w, b, y, up, new(dh, dw, db), options: ce, logSumExpGradient: gLse);

        // sum_n g[n] r[n] + g_lse[n] lse[n] over the kept rows, all in float64.
        double F(double[] hd, double[] wd, double[] bd)
        {
            double f = 0;
            for (int t = 0; t < n; t++)
            {
                if (y[t] != ce.IgnoreIndex)
                {
                    var (r, lse, _) = Float64Row(hd, wd, bd, t, y[t], d, v, ce);
                    f += (up[t] * r) + (gLse[t] * lse);
                }
            }

            return f;
        }

        CheckFiniteDifferences(h, w, b, F, dh, dw, db);
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void LossWithParts_SplitsCrossEntropyAndZLoss(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        var rng = new Random(11);
        int n = 140, d = 20, v = 700;
        var (h, w, b) = (RandomArray(rng, n * d, 1), RandomArray(rng, v * d, 1), RandomArray(rng, v, 1));
        var y = Enumerable.Range(0, n).Select(i => i % 6 == 0 ? -100 : rng.Next(v)).ToArray();
        foreach (var reduction in new[] { Reduction.Mean, Reduction.Sum })
        {
            var ce = new CrossEntropyOptions { Reduction = reduction, ZLoss = 1e-2f, LabelSmoothing = 0.1f };
            var parts = LinearCrossEntropy.LossWithParts(h, w, b, y, ce);
            var reference = new LinearReference(h, w, b, y, ce);
            double crossEntropy = CrossEntropyReference.Loss(reference.Logits, y, ce with { ZLoss = 0 });
            var kept = Enumerable.Range(0, n).Where(t => y[t] != ce.IgnoreIndex).ToArray();
            double zLoss = kept.Sum(t => ce.ZLoss * reference.Lse[t] * reference.Lse[t]) / (reduction == Reduction.Mean ? kept.Length : 1);
            Assert.Equal(LinearCrossEntropy.Loss(h, w, b, y, ce), parts.Total);
            LinearReference.AssertClose(crossEntropy, parts.CrossEntropy, Relative, $"{reduction} cross-entropy part");
            LinearReference.AssertClose(zLoss, parts.ZLoss, Relative, $"{reduction} z-loss part");
            LinearReference.AssertClose(reference.Loss, parts.CrossEntropy + (double)parts.ZLoss, Relative, $"{reduction} sum of parts");
        }

        var none = LinearCrossEntropy.LossWithParts(h, w, b, y, new CrossEntropyOptions());
        Assert.Equal(0f, none.ZLoss);
        Assert.Equal(none.Total, none.CrossEntropy);
        var empty = LinearCrossEntropy.LossWithParts(Array.Empty<float>(), [], b, [], new CrossEntropyOptions { ZLoss = 1e-3f });
        Assert.True(float.IsNaN(empty.Total) && float.IsNaN(empty.CrossEntropy) && float.IsNaN(empty.ZLoss));
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void LogProbabilitiesAndEntropy_EqualFloat64Reference(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        var rng = new Random(13);
        int n = 131, d = 37, v = 1100;
        foreach (var (ce, scale) in new[] { (new CrossEntropyOptions(), 1f), (new CrossEntropyOptions { SoftCap = 4f }, 8f), (new CrossEntropyOptions(), 1000f) })
        {
            var (h, w, b) = (RandomArray(rng, n * d, scale), RandomArray(rng, v * d, 0.5f), RandomArray(rng, v, 1));
            b[5] = float.NegativeInfinity; // a masked class: exp 0, and no 0 x -inf in the entropy
            var y = Enumerable.Range(0, n).Select(i => i % 9 == 0 ? -100 : 6 + rng.Next(v - 6)).ToArray();
            var (logp, lse, entropy) = (new float[n], new float[n], new float[n]);
            LinearCrossEntropy.LogProbabilities(h, w, b, y, logp, lse, entropy, ce);
            var reference = new LinearReference(h, w, b, y, ce with { Reduction = Reduction.None });
            var expectedEntropy = Entropy(reference.Logits, reference.Lse, n, v, ce.SoftCap);
            for (int t = 0; t < n; t++)
            {
                if (y[t] == ce.IgnoreIndex)
                {
                    Assert.Equal(0, BitConverter.SingleToInt32Bits(logp[t])); // +0, not -0
                }

                LinearReference.AssertClose(-reference.RowLosses[t], logp[t], Relative, $"log p {t} (x{scale})");
                LinearReference.AssertClose(reference.Lse[t], lse[t], Relative, $"lse {t}");
                // H's float error is relative to log V (its terms' size), not to H, which may be near 0.
                Assert.True(Math.Abs(entropy[t] - expectedEntropy[t]) <= 1e-5 * (1 + Math.Log(v)), $"entropy {t} (x{scale}): expected {expectedEntropy[t]}, got {entropy[t]}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void LogProbabilityGradients_EqualFloat64Reference_AndForwardBits(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        var rng = new Random(17);
        int n = 131, d = 37, v = 1100;
        var (h, w, b) = (RandomArray(rng, n * d, 1), RandomArray(rng, v * d, 0.5f), RandomArray(rng, v, 1));
        var y = Enumerable.Range(0, n).Select(i => i % 9 == 0 ? -100 : rng.Next(v)).ToArray();
        var g = RandomArray(rng, n, 1);
        var ce = new CrossEntropyOptions { SoftCap = 6f };
        var (dh, dw, db) = (new float[n * d], new float[v * d], new float[v]);
        var (logp, lse, entropy) = (new float[n], new float[n], new float[n]);
        LinearCrossEntropy.LogProbabilityGradients(h, w, b, y, g, new(dh, dw, db), logp, lse, entropy, ce);

        // d(sum g log p) = d(sum (-g) r) for the plain row loss r = -log p.
        var reference = new LinearReference(h, w, b, y, ce with { Reduction = Reduction.None }, g.Select(x => -x).ToArray());
        LinearReference.AssertGradient(reference.DHidden, reference.DHiddenBound, dh, Relative, "dHidden");
        LinearReference.AssertGradient(reference.DWeight, reference.DWeightBound, dw, Relative, "dWeight");
        LinearReference.AssertGradient(reference.DBias, reference.DBiasBound, db, Relative, "dBias");

        var (logp0, lse0, entropy0) = (new float[n], new float[n], new float[n]);
        LinearCrossEntropy.LogProbabilities(h, w, b, y, logp0, lse0, entropy0, ce);
        Assert.Equal(logp0, logp);
        Assert.Equal(lse0, lse);
        Assert.Equal(entropy0, entropy);
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void LogProbabilityGradients_MatchFloat64FiniteDifferences(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        var rng = new Random(19);
        int n = 5, d = 3, v = 8;
        var (h, w, b) = (RandomArray(rng, n * d, 1), RandomArray(rng, v * d, 1), RandomArray(rng, v, 1));
        int[] y = [1, -100, 7, 0, 3];
        var g = RandomArray(rng, n, 1);
        var ce = new CrossEntropyOptions { SoftCap = 2f };
        var (dh, dw, db) = (new float[n * d], new float[v * d], new float[v]);
        LinearCrossEntropy.LogProbabilityGradients(h, w, b, y, g, new(dh, dw, db), options: ce);
        double F(double[] hd, double[] wd, double[] bd) =>
            Enumerable.Range(0, n).Where(t => y[t] != ce.IgnoreIndex).Sum(t => -g[t] * Float64Row(hd, wd, bd, t, y[t], d, v, ce).Loss);
        CheckFiniteDifferences(h, w, b, F, dh, dw, db);
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void EntropyGradient_MatchesFloat64FiniteDifferences(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        var rng = new Random(37);
        int n = 5, d = 3, v = 8;
        var (h, w, b) = (RandomArray(rng, n * d, 1), RandomArray(rng, v * d, 1), RandomArray(rng, v, 1));
        int[] y = [1, -100, 7, 0, 3];
        var (g, gH) = (RandomArray(rng, n, 1), RandomArray(rng, n, 1));
        foreach (var ce in new[] { new CrossEntropyOptions(), new CrossEntropyOptions { SoftCap = 2f } })
        {
            var (dh, dw, db) = (new float[n * d], new float[v * d], new float[v]);
            LinearCrossEntropy.LogProbabilityGradients(h, w, b, y, g, new(dh, dw, db), options: ce, entropyGradient: gH);
            double F(double[] hd, double[] wd, double[] bd) => Enumerable.Range(0, n).Where(t => y[t] != ce.IgnoreIndex).Sum(t =>
            {
                var row = Float64Row(hd, wd, bd, t, y[t], d, v, ce);
                return (-g[t] * row.Loss) + (gH[t] * row.Entropy);
            });
            CheckFiniteDifferences(h, w, b, F, dh, dw, db);
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void EntropyGradient_EqualsFloat64Reference_CachedAndRecomputedTiles(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        var rng = new Random(41);
        int n = 131, d = 37, v = 1100;
        var (h, w, b) = (RandomArray(rng, n * d, 1), RandomArray(rng, v * d, 0.5f), RandomArray(rng, v, 1));
        b[5] = float.NegativeInfinity; // p = 0 and z = -inf: the entropy term must add 0, not NaN
        var y = Enumerable.Range(0, n).Select(i => i % 9 == 0 ? -100 : 6 + rng.Next(v - 6)).ToArray();
        var (g, gH) = (RandomArray(rng, n, 1), RandomArray(rng, n, 1));
        var ce = new CrossEntropyOptions { SoftCap = 5f };
        var reference = new LinearReference(h, w, b, y, ce with { Reduction = Reduction.None }, g.Select(x => -x).ToArray());
        var (dz, bound) = EntropyTerms(reference.Logits, reference.Lse, y, gH, n, v, ce.SoftCap);
        var extra = Products(dz, bound, h, w, n, d, v);
        foreach (long cache in new[] { LinearCrossEntropyOptions.Default.CacheBytes, 0 })
        {
            using var budget = Xent.Fused.FusedKernel.OverrideCache(cache);
            var (dh, dw, db) = (new float[n * d], new float[v * d], new float[v]);
            LinearCrossEntropy.LogProbabilityGradients(h, w, b, y, g, new(dh, dw, db), options: ce, entropyGradient: gH);
            LinearReference.AssertGradient(Sum(reference.DHidden, extra.DHidden), Sum(reference.DHiddenBound, extra.DHiddenBound), dh, Relative, $"dHidden (cache {cache})");
            LinearReference.AssertGradient(Sum(reference.DWeight, extra.DWeight), Sum(reference.DWeightBound, extra.DWeightBound), dw, Relative, $"dWeight (cache {cache})");
            LinearReference.AssertGradient(Sum(reference.DBias, extra.DBias), Sum(reference.DBiasBound, extra.DBiasBound), db, Relative, $"dBias (cache {cache})");
        }
    }

    /// <summary>
    /// A token whose own logit is -inf (a class masked through the bias): p = 0 there, so the entropy term at the target
    /// is 0 and d log p / dz = 1 - 0; the result is that of a mask of -1e30, not NaN (found by an API sweep: the target's
    /// entropy term was 0 x -inf, which made that token's dh, its target's dW row and dBias NaN).
    /// </summary>
    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void EntropyGradient_AtAMaskedTarget_IsFinite(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        var rng = new Random(43);
        int n = 3, d = 4, v = 7;
        var (h, w, b) = (RandomArray(rng, n * d, 1), RandomArray(rng, v * d, 1), RandomArray(rng, v, 1));
        int[] y = [2, 0, 2];
        var (g, gH) = (RandomArray(rng, n, 1), RandomArray(rng, n, 1));
        (float[] Dh, float[] Dw, float[] Db) Run(float mask)
        {
            b[2] = mask;
            var (dh, dw, db) = (new float[n * d], new float[v * d], new float[v]);
            LinearCrossEntropy.LogProbabilityGradients(h, w, b, y, g, new(dh, dw, db), entropyGradient: gH);
            return (dh, dw, db);
        }

        var masked = Run(float.NegativeInfinity);
        var large = Run(-1e30f);
        Assert.All(masked.Dh.Concat(masked.Dw).Concat(masked.Db), x => Assert.True(float.IsFinite(x)));
        Assert.Equal(large.Dh, masked.Dh);
        Assert.Equal(large.Dw, masked.Dw);
        Assert.Equal(large.Db, masked.Db);
        Assert.Equal(g[0] + g[2], masked.Db[2], 1e-6f);
    }

    [Fact]
    public void NewOutputs_AreBitwiseIdentical_ForAnyThreadCount()
    {
        var rng = new Random(23);
        int n = 150, d = 40, v = 5000;
        var (h, w, b) = (RandomArray(rng, n * d, 1), RandomArray(rng, v * d, 0.5f), RandomArray(rng, v, 1));
        var y = Enumerable.Range(0, n).Select(i => i % 13 == 0 ? -100 : rng.Next(v)).ToArray();
        var g = RandomArray(rng, n, 1);
        List<float[]>? first = null;
        foreach (int threads in new[] { 1, 2, 7 })
        {
            var o = new LinearCrossEntropyOptions { CrossEntropy = new() { MaxDegreeOfParallelism = threads } };
            var outputs = new List<float[]> { new float[n * d], new float[v * d], new float[v], new float[n], new float[n], new float[n * d], new float[v * d] };
            LinearCrossEntropy.LogProbabilityGradients(h, w, b, y, g, new(outputs[0], outputs[1], outputs[2]), outputs[3], entropy: outputs[4], options: o,
                entropyGradient: g);
            LinearCrossEntropy.Gradients(h, w, b, y, g, new(outputs[5], outputs[6]), options: o with { CrossEntropy = o.CrossEntropy with { ZLoss = 1e-3f } },
                logSumExpGradient: g);
            if (first == null)
            {
                first = outputs;
                continue;
            }

            for (int i = 0; i < outputs.Count; i++)
            {
                Assert.Equal(first[i], outputs[i]);
            }
        }
    }

    [Fact]
    public void LogProbabilitiesAndEntropy_OfARow_DoNotDependOnBatchOrPosition()
    {
        var rng = new Random(29);
        int d = 33, v = 900;
        var w = RandomArray(rng, v * d, 0.5f);
        var b = RandomArray(rng, v, 1);
        var row = RandomArray(rng, d, 1);
        const int token = 17;
        var alone = Outputs(row, [token], 1);
        foreach (var (n, position, threads) in new[] { (300, 0, 1), (300, 131, 3), (129, 128, 2), (7, 6, 1) })
        {
            var h = RandomArray(rng, n * d, 1);
            var y = Enumerable.Range(0, n).Select(_ => rng.Next(v)).ToArray();
            row.CopyTo(h, position * d);
            y[position] = token;
            var batch = Outputs(h, y, threads);
            Assert.Equal(alone.LogP[0], batch.LogP[position]);
            Assert.Equal(alone.Entropy[0], batch.Entropy[position]);
            Assert.Equal(alone.DHidden, batch.DHidden.AsSpan(position * d, d).ToArray());
        }

        (float[] LogP, float[] Entropy, float[] DHidden) Outputs(float[] h, int[] y, int threads)
        {
            int n = y.Length;
            var (logp, entropy, dh) = (new float[n], new float[n], new float[n * d]);
            var g = Enumerable.Repeat(0.5f, n).ToArray();
            LinearCrossEntropy.LogProbabilityGradients(h, w, b, y, g, new(dh, new float[v * d]), logp, entropy: entropy,
                options: new CrossEntropyOptions { MaxDegreeOfParallelism = threads }, entropyGradient: g);
            return (logp, entropy, dh);
        }
    }

    [Fact]
    public void BadInput_IsAnArgumentException_NamingTheParameter()
    {
        int n = 3, d = 2, v = 4;
        var (h, w) = (new float[n * d], new float[v * d]);
        int[] y = [0, 1, 2];
        var logp = new float[n];
        Assert.Equal("options", Assert.Throws<ArgumentException>(() =>
            LinearCrossEntropy.LogProbabilities(h, w, [], y, logp, options: new CrossEntropyOptions { LabelSmoothing = 0.1f })).ParamName);
        Assert.Equal("options", Assert.Throws<ArgumentException>(() =>
            LinearCrossEntropy.LogProbabilityGradients(h, w, [], y, new float[n], new(new float[n * d], new float[v * d]),
                options: new CrossEntropyOptions { ZLoss = 1e-4f })).ParamName);
        Assert.Equal("entropy", Assert.Throws<ArgumentException>(() =>
            LinearCrossEntropy.LogProbabilities(h, w, [], y, logp, entropy: new float[n - 1])).ParamName);
        Assert.Equal("logProbabilities", Assert.Throws<ArgumentException>(() =>
            LinearCrossEntropy.LogProbabilities(h, w, [], y, new float[n - 1])).ParamName);
        Assert.Equal("logProbabilities", Assert.Throws<ArgumentException>(() =>
            LinearCrossEntropy.LogProbabilityGradients(h, w, [], y, new float[n], new(new float[n * d], new float[v * d]),
                logProbabilities: new float[n - 1])).ParamName);
        Assert.Equal("logSumExpGradient", Assert.Throws<ArgumentException>(() =>
            LinearCrossEntropy.Gradients(h, w, [], y, new float[n], new(new float[n * d], new float[v * d]), logSumExpGradient: new float[n - 1])).ParamName);
        Assert.Equal("entropyGradient", Assert.Throws<ArgumentException>(() =>
            LinearCrossEntropy.LogProbabilityGradients(h, w, [], y, new float[n], new(new float[n * d], new float[v * d]),
                options: new LinearCrossEntropyOptions { FilterThreshold = 1e-6f }, entropyGradient: new float[n])).ParamName);
        Assert.Equal("upstream", Assert.Throws<ArgumentException>(() =>
            LinearCrossEntropy.LogProbabilityGradients(h, w, [], y, new float[n + 2], new(new float[n * d], new float[v * d]))).ParamName);
    }

    // The kernel's extra logits-gradient term g_lse[n] p[n, c] cap'(x) for kept rows, with its magnitude.
    private static (double[] Dz, double[] Bound) LseTerms(float[] logits, double[] lse, int[] y, float[] gLse, int n, int v, CrossEntropyOptions o)
    {
        var dz = new double[n * v];
        for (int t = 0; t < n; t++)
        {
            if (y[t] == o.IgnoreIndex)
            {
                continue;
            }

            for (int c = 0; c < v; c++)
            {
                double x = logits[(t * v) + c];
                double z = o.SoftCap > 0 ? o.SoftCap * Math.Tanh(x / o.SoftCap) : x;
                double cap = o.SoftCap > 0 ? 1 - ((z / o.SoftCap) * (z / o.SoftCap)) : 1;
                dz[(t * v) + c] = gLse[t] * Math.Exp(z - lse[t]) * cap;
            }
        }

        return (dz, dz.Select(Math.Abs).ToArray());
    }

    private static (double[] DHidden, double[] DHiddenBound, double[] DWeight, double[] DWeightBound, double[] DBias, double[] DBiasBound) Products(
        double[] dz, double[] bound, float[] h, float[] w, int n, int d, int v)
    {
        var (dh, dhB, dw, dwB, db, dbB) = (new double[n * d], new double[n * d], new double[v * d], new double[v * d], new double[v], new double[v]);
        for (int t = 0; t < n; t++)
        {
            for (int c = 0; c < v; c++)
            {
                double g = dz[(t * v) + c], a = bound[(t * v) + c];
                db[c] += g;
                dbB[c] += a;
                for (int k = 0; k < d; k++)
                {
                    dh[(t * d) + k] += g * w[(c * d) + k];
                    dhB[(t * d) + k] += a * Math.Abs(w[(c * d) + k]);
                    dw[(c * d) + k] += g * h[(t * d) + k];
                    dwB[(c * d) + k] += a * Math.Abs(h[(t * d) + k]);
                }
            }
        }

        return (dh, dhB, dw, dwB, db, dbB);
    }

    // dH/dz scaled by g_H: -g_H[n] p[n, c] (z[n, c] - sum p z) cap'(x) for kept rows, with its magnitude.
    private static (double[] Dz, double[] Bound) EntropyTerms(float[] logits, double[] lse, int[] y, float[] gH, int n, int v, float cap)
    {
        var mean = Entropy(logits, lse, n, v, cap).Select((e, t) => lse[t] - e).ToArray();
        var dz = new double[n * v];
        var bound = new double[n * v];
        for (int t = 0; t < n; t++)
        {
            for (int c = 0; c < v && y[t] != -100; c++)
            {
                double x = logits[(t * v) + c];
                double z = cap > 0 ? cap * Math.Tanh(x / cap) : x;
                double p = Math.Exp(z - lse[t]);
                double factor = cap > 0 ? 1 - ((z / cap) * (z / cap)) : 1;
                dz[(t * v) + c] = p == 0 ? 0 : -gH[t] * p * (z - mean[t]) * factor;
                bound[(t * v) + c] = p == 0 ? 0 : Math.Abs(gH[t]) * p * (Math.Abs(z) + Math.Abs(mean[t]));
            }
        }

        return (dz, bound);
    }

    // H = lse - sum_c p[c] z[c] of the (capped) float logits, in double.
    private static double[] Entropy(float[] logits, double[] lse, int n, int v, float cap)
    {
        var result = new double[n];
        for (int t = 0; t < n; t++)
        {
            double mean = 0;
            for (int c = 0; c < v; c++)
            {
                double x = logits[(t * v) + c];
                double z = cap > 0 ? cap * Math.Tanh(x / cap) : x;
                double p = Math.Exp(z - lse[t]);
                mean += p == 0 ? 0 : p * z;
            }

            result[t] = lse[t] - mean;
        }

        return result;
    }

    // One kept row's loss r, its lse and its entropy, all in float64 from the spec (docs/spec/cross-entropy.md).
    private static (double Loss, double Lse, double Entropy) Float64Row(double[] h, double[] w, double[] b, int t, int y, int d, int v, CrossEntropyOptions o)
    {
        var cw = o.ClassWeights.ToArray();
        double Weight(int c) => cw.Length == 0 ? 1 : cw[c];
        var z = new double[v];
        for (int c = 0; c < v; c++)
        {
            double x = b[c];
            for (int k = 0; k < d; k++)
            {
                x += h[(t * d) + k] * w[(c * d) + k];
            }

            z[c] = o.SoftCap > 0 ? o.SoftCap * Math.Tanh(x / o.SoftCap) : x;
        }

        double m = z.Max();
        double lse = m + Math.Log(z.Sum(x => Math.Exp(x - m)));
        double smooth = Enumerable.Range(0, v).Sum(c => Weight(c) * (lse - z[c]));
        double e = o.LabelSmoothing;
        double r = ((1 - e) * Weight(y) * (lse - z[y])) + (e / v * smooth) + (o.ZLoss * lse * lse);
        return (r, lse, lse - z.Sum(x => Math.Exp(x - lse) * x));
    }

    private static void CheckFiniteDifferences(float[] h, float[] w, float[] b, Func<double[], double[], double[], double> f, float[] dh, float[] dw, float[] db)
    {
        var hd = h.Select(x => (double)x).ToArray();
        var wd = w.Select(x => (double)x).ToArray();
        var bd = b.Select(x => (double)x).ToArray();
        Check(hd, dh, "dHidden");
        Check(wd, dw, "dWeight");
        Check(bd, db, "dBias");

        void Check(double[] x, float[] analytic, string what)
        {
            const double step = 1e-5;
            for (int i = 0; i < x.Length; i++)
            {
                double old = x[i];
                x[i] = old + step;
                double up = f(hd, wd, bd);
                x[i] = old - step;
                double down = f(hd, wd, bd);
                x[i] = old;
                double fd = (up - down) / (2 * step);
                Assert.True(Math.Abs(fd - analytic[i]) <= (2e-4 * Math.Abs(fd)) + 2e-6, $"{what}[{i}]: finite difference {fd}, analytic {analytic[i]}");
            }
        }
    }

    private static double[] Sum(double[] x, double[] y) => x.Select((a, i) => a + y[i]).ToArray();

    /// <summary>The pointer-weight family has the same outputs, bitwise the span calls': parts, log p, lse, entropy and their backward.</summary>
    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public unsafe void PointerWeightOverloads_EqualTheSpanOverloadsBitwise(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        var rng = new Random(12);
        int n = 131, d = 37, v = 1100;
        var (h, w, b) = (RandomArray(rng, n * d, 1), RandomArray(rng, v * d, 0.5f), RandomArray(rng, v, 1));
        var y = Enumerable.Range(0, n).Select(i => i % 9 == 0 ? -100 : rng.Next(v)).ToArray();
        var up = RandomArray(rng, n, 1);
        var gH = RandomArray(rng, n, 0.1f);
        var ce = new CrossEntropyOptions { ZLoss = 1e-3f, LabelSmoothing = 0.1f, MaxDegreeOfParallelism = 2 };
        var plain = new CrossEntropyOptions { SoftCap = 5f, MaxDegreeOfParallelism = 2 };
        fixed (float* pw = w)
        {
            Assert.Equal(LinearCrossEntropy.LossWithParts(h, w, b, y, ce), LinearCrossEntropy.LossWithParts(h, pw, v, d, b, y, ce));
            float[] lp = new float[n], lse = new float[n], ent = new float[n], lpp = new float[n], lsep = new float[n], entp = new float[n];
            LinearCrossEntropy.LogProbabilities(h, w, b, y, lp, lse, ent, plain);
            LinearCrossEntropy.LogProbabilities(h, pw, v, d, b, y, lpp, lsep, entp, plain);
            Assert.Equal(lp, lpp);
            Assert.Equal(lse, lsep);
            Assert.Equal(ent, entp);

            float[] dh = new float[n * d], dw = new float[v * d], dhp = new float[n * d], dwp = new float[v * d];
            var o = new LinearCrossEntropyOptions { CrossEntropy = plain };
            LinearCrossEntropy.LogProbabilityGradients(h, w, b, y, up, new(dh, dw), options: o, entropyGradient: gH);
            LinearCrossEntropy.LogProbabilityGradients(h, pw, v, d, b, y, up, new(dhp, dwp), options: o, entropyGradient: gH);
            Assert.Equal(dh, dhp);
            Assert.Equal(dw, dwp);
        }
    }

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
