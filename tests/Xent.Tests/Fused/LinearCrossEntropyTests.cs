using System.Runtime.InteropServices;
using Xent.Fused;
using Xent.Tests.Core;

namespace Xent.Tests.Fused;

public class LinearCrossEntropyTests
{
    private const double Relative = 1e-5;

    public static TheoryData<VectorWidth, string> WidthsAndOptions()
    {
        var data = new TheoryData<VectorWidth, string>();
        foreach (var w in Simd.Supported())
        {
            foreach (string name in Configs.Keys)
            {
                data.Add(w, name);
            }
        }

        return data;
    }

    /// <summary>The option sets the fused tests run, by name (the token-lane tests take some of them).</summary>
    internal static readonly Dictionary<string, Func<int, CrossEntropyOptions>> Configs = new()
    {
        ["mean"] = _ => new(),
        ["sum"] = _ => new() { Reduction = Reduction.Sum },
        ["none"] = _ => new() { Reduction = Reduction.None },
        ["ignore-in-range"] = _ => new() { IgnoreIndex = 2 },
        ["smoothing"] = _ => new() { LabelSmoothing = 0.1f },
        ["weights"] = v => new() { ClassWeights = Enumerable.Range(0, v).Select(c => 0.5f + (c % 5 * 0.25f)).ToArray() },
        ["zloss"] = _ => new() { ZLoss = 1e-3f, Reduction = Reduction.Mean },
        ["softcap"] = _ => new() { SoftCap = 3f },
        ["everything"] = v => new()
        {
            LabelSmoothing = 0.2f,
            ZLoss = 1e-2f,
            SoftCap = 4f,
            ClassWeights = Enumerable.Range(0, v).Select(c => 1f + (c % 3 * 0.5f)).ToArray(),
            Reduction = Reduction.Sum,
        },
    };

    [Theory]
    [MemberData(nameof(WidthsAndOptions))]
    public void EqualsUnfusedPath_ForEveryOption_OddSizes(VectorWidth width, string config)
    {
        using var scope = Simd.Override(width);
        // N, D, V not multiples of any block: N crosses the 128-token block, D the 256 K block and the 32-wide
        // strips, V the 252-class tile and several vocabulary groups; plus the degenerate V = 1 and D = 1.
        (int N, int D, int V)[] sizes = [(131, 37, 1100), (9, 300, 53), (5, 7, 1), (6, 1, 19)];
        foreach (var (n, d, v) in sizes)
        {
            var o = Configs[config](v);
            CheckAgainstReference(new Random(n + d + v), n, d, v, o, withBias: config is "sum" or "everything", scaleLogits: config == "softcap" ? 8 : 1);
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void RecomputedAndPartlyCachedTiles_EqualUnfusedPath(VectorWidth width)
    {
        // Normally every tile of a small V is cached; here none, then one per vocabulary group.
        using var scope = Simd.Override(width);
        foreach (long budget in new[] { 0L, (long)FusedKernel.VocabBlock * FusedKernel.TokenBlock * sizeof(float) * 3 })
        {
            using var cache = FusedKernel.OverrideCache(budget);
            foreach (string config in new[] { "everything", "none", "softcap" })
            {
                var o = Configs[config](1100);
                CheckAgainstReference(new Random(7), 131, 37, 1100, o, withBias: true, scaleLogits: config == "softcap" ? 8 : 1);
            }
        }
    }

    [Fact]
    public void RowsOfWLongerThanAPage_EqualUnfusedPath()
    {
        // D = 1100: each row of W spans two or three 4 KB pages, all of which the logits tiles touch ahead of the next tile.
        using var cache = FusedKernel.OverrideCache(0);
        CheckAgainstReference(new Random(11), 40, 1100, 600, Configs["mean"](600), withBias: true, scaleLogits: 1);
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void AllRowsIgnored_MeanIsNaN_GradientsZero(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        var rng = new Random(5);
        int n = 7, d = 5, v = 30;
        var h = RandomArray(rng, n * d, 1);
        var w = RandomArray(rng, v * d, 1);
        var y = Enumerable.Repeat(-100, n).ToArray();
        var dh = Enumerable.Repeat(9f, n * d).ToArray();
        var dw = Enumerable.Repeat(9f, v * d).ToArray();
        float loss = LinearCrossEntropy.LossAndGradients(h, w, y, new(dh, dw));
        Assert.True(float.IsNaN(loss));
        Assert.All(dh, x => Assert.Equal(0f, x));
        Assert.All(dw, x => Assert.Equal(0f, x));
        Assert.Equal(0f, LinearCrossEntropy.Loss(h, w, y, new CrossEntropyOptions { Reduction = Reduction.Sum }));
    }

    [Fact]
    public void WorkedExample_FromTheSpec()
    {
        // D = 3, h = e_c picks row c of W as the logits; W's first column holds the log-probabilities.
        float[] h = [1, 0, 0];
        float[] w = [MathF.Log(0.231f), 0, 0, MathF.Log(0.628f), 0, 0, MathF.Log(0.141f), 0, 0];
        float loss = LinearCrossEntropy.Loss(h, w, [1]);
        Assert.Equal(-Math.Log(0.628 / (0.231 + 0.628 + 0.141)), loss, 5);
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void Gradients_MatchFloat64FiniteDifferences(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        var rng = new Random(17);
        int n = 4, d = 3, v = 7;
        var h = RandomArray(rng, n * d, 1);
        var w = RandomArray(rng, v * d, 1);
        var b = RandomArray(rng, v, 1);
        int[] y = [1, -100, 6, 0];
        var ce = new CrossEntropyOptions { LabelSmoothing = 0.1f, ZLoss = 0.01f, SoftCap = 2f, ClassWeights = RandomArray(rng, v, 0.5f).Select(x => x + 1).ToArray() };
        var dh = new float[n * d];
        var dw = new float[v * d];
        var db = new float[v];
        LinearCrossEntropy.LossAndGradients(h, w, b, y, new(dh, dw, db), options: ce);

        double F(double[] hd, double[] wd, double[] bd) => Float64Loss(hd, wd, bd, y, n, d, v, ce);
        var hd = h.Select(x => (double)x).ToArray();
        var wd = w.Select(x => (double)x).ToArray();
        var bd = b.Select(x => (double)x).ToArray();
        CheckFiniteDifferences(hd, () => F(hd, wd, bd), dh, "dHidden");
        CheckFiniteDifferences(wd, () => F(hd, wd, bd), dw, "dWeight");
        CheckFiniteDifferences(bd, () => F(hd, wd, bd), db, "dBias");
    }

    [Theory]
    [InlineData(-1L)]
    [InlineData(2L * 252 * 128 * 4 * 10)]
    public void Result_IsBitwiseIdentical_ForAnyThreadCount(long cacheBytes)
    {
        using var cache = FusedKernel.OverrideCache(cacheBytes < 0 ? LinearCrossEntropyOptions.Default.CacheBytes : cacheBytes);
        var rng = new Random(23);
        int n = 150, d = 40, v = 5000;
        var h = RandomArray(rng, n * d, 1);
        var w = RandomArray(rng, v * d, 0.5f);
        var b = RandomArray(rng, v, 1);
        var y = Enumerable.Range(0, n).Select(i => i % 13 == 0 ? -100 : rng.Next(v)).ToArray();
        float[]? dh0 = null, dw0 = null, db0 = null, lse0 = null;
        float loss0 = 0;
        foreach (int threads in new[] { 1, 2, 7 })
        {
            var o = new LinearCrossEntropyOptions { CrossEntropy = new() { LabelSmoothing = 0.05f, MaxDegreeOfParallelism = threads } };
            var dh = new float[n * d];
            var dw = new float[v * d];
            var db = new float[v];
            var lse = new float[n];
            float loss = LinearCrossEntropy.LossAndGradients(h, w, b, y, new(dh, dw, db), 1f, lse, o);
            if (dh0 == null)
            {
                (dh0, dw0, db0, lse0, loss0) = (dh, dw, db, lse, loss);
                continue;
            }

            Assert.Equal(BitConverter.SingleToInt32Bits(loss0), BitConverter.SingleToInt32Bits(loss));
            Assert.Equal(dh0, dh);
            Assert.Equal(dw0, dw);
            Assert.Equal(db0, db);
            Assert.Equal(lse0, lse);
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void BiasOfMinusTenToThe30_GivesTheUniformRow(VectorWidth width)
    {
        // Every class masked by a bias of -1e30: the logits all round to -1e30 and the row is uniform (loss ln V,
        // p = 1 / V). lse = m + log s rounds to m in double there, which lost log s before.
        using var scope = Simd.Override(width);
        var rng = new Random(37);
        int n = 5, d = 8, v = 300;
        var h = RandomArray(rng, n * d, 1);
        var w = RandomArray(rng, v * d, 0.5f);
        var b = Enumerable.Repeat(-1e30f, v).ToArray();
        int[] y = [0, 5, 299, 17, 42];
        var ce = new CrossEntropyOptions();
        var reference = new LinearReference(h, w, b, y, ce);
        Close.Scalar(Math.Log(v), reference.Loss, 1e-12, 0, "the reference");
        var dh = new float[n * d];
        var dw = new float[v * d];
        var db = new float[v];
        float loss = LinearCrossEntropy.LossAndGradients(h, w, b, y, new(dh, dw, db));
        LinearReference.AssertClose(reference.Loss, loss, Relative, "loss");
        LinearReference.AssertGradient(reference.DHidden, reference.DHiddenBound, dh, Relative, "dHidden");
        LinearReference.AssertGradient(reference.DWeight, reference.DWeightBound, dw, Relative, "dWeight");
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void BiasRowLossesLse_AndAccumulate(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        var rng = new Random(31);
        int n = 40, d = 24, v = 600;
        var h = RandomArray(rng, n * d, 1);
        var w = RandomArray(rng, v * d, 0.5f);
        var b = RandomArray(rng, v, 2);
        b[3] = float.NegativeInfinity; // a masked class
        var y = Enumerable.Range(0, n).Select(i => i % 7 == 0 ? -100 : (3 + 1 + rng.Next(v - 4))).ToArray();
        var ce = new CrossEntropyOptions { Reduction = Reduction.None };
        var up = RandomArray(rng, n, 1);
        var reference = new LinearReference(h, w, b, y, ce, up);

        var dh = RandomArray(rng, n * d, 1);
        var dw = RandomArray(rng, v * d, 1);
        var db = RandomArray(rng, v, 1);
        var (dh0, dw0, db0) = ((float[])dh.Clone(), (float[])dw.Clone(), (float[])db.Clone());
        var rows = new float[n];
        var lse = new float[n];
        var o = new LinearCrossEntropyOptions { CrossEntropy = ce, Accumulate = true };
        LinearCrossEntropy.Gradients(h, w, b, y, up, new(dh, dw, db), rows, lse, o);

        LinearReference.AssertClose(reference.Loss, rows.Sum(x => (double)x), Relative, "sum of row losses");
        for (int i = 0; i < n; i++)
        {
            LinearReference.AssertClose(reference.RowLosses[i], rows[i], Relative, $"row loss {i}");
            LinearReference.AssertClose(reference.Lse[i], lse[i], Relative, $"lse {i}");
        }

        // The sums' bounds include the prior values: adding to them rounds at their scale.
        LinearReference.AssertGradient(Add(reference.DHidden, dh0), Add(reference.DHiddenBound, dh0, abs: true), dh, Relative, "dHidden (accumulated)");
        LinearReference.AssertGradient(Add(reference.DWeight, dw0), Add(reference.DWeightBound, dw0, abs: true), dw, Relative, "dWeight (accumulated)");
        LinearReference.AssertGradient(Add(reference.DBias, db0), Add(reference.DBiasBound, db0, abs: true), db, Relative, "dBias (accumulated)");
        Assert.Equal(0f, db[3] - db0[3]); // exp(-inf) = 0: the masked class gets no gradient
    }

    [Theory]
    [InlineData(64, 16, 2000)]
    [InlineData(300, 37, 1500)] // three token blocks, D not a multiple of any strip or chunk
    public void FilterThreshold_SkipsTinyBlocks_WithinStatedBound(int n, int d, int v)
    {
        var rng = new Random(41);
        // Peaked: logits with a standard deviation near 40 put nearly all mass on one class per token.
        var h = RandomArray(rng, n * d, 30);
        var w = RandomArray(rng, v * d, 1);
        var y = Enumerable.Range(0, n).Select(_ => rng.Next(v)).ToArray();
        var exact = (new float[n * d], new float[v * d]);
        float lossExact = LinearCrossEntropy.LossAndGradients(h, w, y, new(exact.Item1, exact.Item2));
        const float threshold = 1e-6f;
        var filtered = (new float[n * d], new float[v * d]);
        float lossFiltered = LinearCrossEntropy.LossAndGradients(h, w, y, new(filtered.Item1, filtered.Item2),
            new LinearCrossEntropyOptions { FilterThreshold = threshold });
        Assert.Equal(lossExact, lossFiltered);

        // A skipped block's entries are each below the threshold, so an entry of dW moves by at most
        // threshold * sum_t |h[t, k]| and one of dh by at most threshold * sum_c |W[c, k]|.
        int skippedRows = 0;
        for (int c = 0; c < v; c++)
        {
            bool zero = true;
            for (int k = 0; k < d; k++)
            {
                double bound = threshold * Enumerable.Range(0, n).Sum(t => Math.Abs(h[(t * d) + k]));
                Assert.True(Math.Abs(filtered.Item2[(c * d) + k] - exact.Item2[(c * d) + k]) <= bound + 1e-9);
                zero &= filtered.Item2[(c * d) + k] == 0;
            }

            skippedRows += zero ? 1 : 0;
        }

        Assert.True(skippedRows > v / 2, $"only {skippedRows} of {v} dW rows were skipped");
        for (int k = 0; k < d; k++)
        {
            double bound = threshold * Enumerable.Range(0, v).Sum(c => Math.Abs(w[(c * d) + k]));
            for (int t = 0; t < n; t++)
            {
                Assert.True(Math.Abs(filtered.Item1[(t * d) + k] - exact.Item1[(t * d) + k]) <= bound + 1e-9);
            }
        }

        // Threshold 0 is the exact path.
        var zero0 = (new float[n * d], new float[v * d]);
        LinearCrossEntropy.LossAndGradients(h, w, y, new(zero0.Item1, zero0.Item2), new LinearCrossEntropyOptions { FilterThreshold = 0 });
        Assert.Equal(exact.Item1, zero0.Item1);
        Assert.Equal(exact.Item2, zero0.Item2);
    }

    [Theory]
    [InlineData(0f, false)]
    [InlineData(0f, true)]
    [InlineData(1e-6f, false)]
    [InlineData(1e-6f, true)]
    public void Gradients_OverwriteWhateverTheDestinationsHeld(float threshold, bool firstBlockIgnored)
    {
        // The first token block that runs the backward writes dW instead of adding to it, and clears the rows it
        // skips (filtered tiles and strips): whatever dW held must not show, with 3 token blocks, and also when the
        // first block has every target ignored (so the second block is the one that writes).
        var rng = new Random(43);
        int n = 300, d = 24, v = 1500;
        var h = RandomArray(rng, n * d, 30);
        var w = RandomArray(rng, v * d, 1);
        var y = Enumerable.Range(0, n).Select(t => firstBlockIgnored && t < FusedKernel.TokenBlock ? -100 : rng.Next(v)).ToArray();
        var o = new LinearCrossEntropyOptions { FilterThreshold = threshold };
        var clean = (new float[n * d], new float[v * d], new float[v]);
        float loss = LinearCrossEntropy.LossAndGradients(h, w, y, new(clean.Item1, clean.Item2), o);
        var dirty = (Enumerable.Repeat(float.NaN, n * d).ToArray(), Enumerable.Repeat(float.NaN, v * d).ToArray());
        Assert.Equal(loss, LinearCrossEntropy.LossAndGradients(h, w, y, new(dirty.Item1, dirty.Item2), o));
        Assert.Equal(clean.Item1, dirty.Item1);
        Assert.Equal(clean.Item2, dirty.Item2);
        if (threshold > 0)
        {
            Assert.Contains(0f, clean.Item2); // some rows were skipped, and are exact zeros
        }

        // With a bias as well: dBias is overwritten too.
        var b = RandomArray(rng, v, 1);
        var db = Enumerable.Repeat(float.NaN, v).ToArray();
        var withBias = (new float[n * d], new float[v * d], new float[v]);
        LinearCrossEntropy.LossAndGradients(h, w, b, y, new(withBias.Item1, withBias.Item2, withBias.Item3), options: o);
        LinearCrossEntropy.LossAndGradients(h, w, b, y, new(dirty.Item1, dirty.Item2, db), options: o);
        Assert.Equal(withBias.Item2, dirty.Item2);
        Assert.Equal(withBias.Item3, db);
    }

    [Fact]
    public void ConcurrentCalls_ShareTheKeptBuffer_Safely()
    {
        // One scratch buffer is kept between calls; concurrent calls of different sizes must each get their own,
        // and releasing it between calls changes nothing.
        var problems = Enumerable.Range(0, 6).Select(i =>
        {
            var rng = new Random(100 + i);
            int n = 40 + (60 * i), d = 8 + (5 * i), v = 700 + (300 * i);
            return (N: n, D: d, H: RandomArray(rng, n * d, 2), W: RandomArray(rng, v * d, 1), Y: Enumerable.Range(0, n).Select(_ => rng.Next(v)).ToArray());
        }).ToArray();
        var expected = problems.Select(q =>
        {
            var g = (new float[q.H.Length], new float[q.W.Length]);
            LinearCrossEntropy.ReleaseScratchMemory();
            return (Loss: LinearCrossEntropy.LossAndGradients(q.H, q.W, q.Y, new(g.Item1, g.Item2)), Dh: g.Item1, Dw: g.Item2);
        }).ToArray();
        Parallel.For(0, 4 * problems.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, k =>
        {
            var q = problems[k % problems.Length];
            var g = (new float[q.H.Length], new float[q.W.Length]);
            float loss = LinearCrossEntropy.LossAndGradients(q.H, q.W, q.Y, new(g.Item1, g.Item2), new CrossEntropyOptions { MaxDegreeOfParallelism = 1 });
            Assert.Equal(expected[k % problems.Length].Loss, loss);
            Assert.Equal(expected[k % problems.Length].Dh, g.Item1);
            Assert.Equal(expected[k % problems.Length].Dw, g.Item2);
        });
    }

    [Fact]
    public void CacheBytes_ChangesNothingButSpeed()
    {
        // From nothing cached (every tile recomputed) through part of each group to every tile (2 x 1700 x 128 x 4
        // bytes would do): the same bits, since a cached tile holds exactly what recomputing it gives.
        var rng = new Random(31);
        int n = 200, d = 24, v = 1700;
        var h = RandomArray(rng, n * d, 1);
        var w = RandomArray(rng, v * d, 1);
        var y = Enumerable.Range(0, n).Select(_ => rng.Next(v)).ToArray();
        var ce = new CrossEntropyOptions { LabelSmoothing = 0.1f, SoftCap = 5f };
        float[]? dh0 = null, dw0 = null;
        float loss0 = 0;
        foreach (long bytes in new[] { 0L, 300_000L, LinearCrossEntropyOptions.Default.CacheBytes, 1L << 30 })
        {
            var dh = new float[n * d];
            var dw = new float[v * d];
            float loss = LinearCrossEntropy.LossAndGradients(h, w, y, new(dh, dw), new LinearCrossEntropyOptions { CrossEntropy = ce, CacheBytes = bytes });
            if (dh0 == null)
            {
                (loss0, dh0, dw0) = (loss, dh, dw);
                continue;
            }

            Assert.Equal(loss0, loss);
            Assert.Equal(dh0, dh);
            Assert.Equal(dw0, dw);
        }

        Assert.Equal("options", Assert.Throws<ArgumentOutOfRangeException>(() => LinearCrossEntropy.LossAndGradients(h, w, y, new(new float[n * d], new float[v * d]),
            new LinearCrossEntropyOptions { CacheBytes = -1 })).ParamName);
    }

    [Fact]
    public void SpecialValues_MatchTheReference()
    {
        int n = 3, v = 5;
        float[] h = [1, 0, 0, 1, 1, 1];
        float[] w = [1, 1, 2, 0, 0, 2, -1, 0, 0, -1];
        float[] b = [0, float.NegativeInfinity, 0, 0, 0];
        var rows = new float[n];
        // Target 1 has a -inf logit: +inf loss. With smoothing a -inf logit anywhere makes the loss +inf too.
        LinearCrossEntropy.LossPerRow(h, w, b, [1, 0, 2], rows, options: new() { Reduction = Reduction.None });
        Assert.True(float.IsPositiveInfinity(rows[0]));
        Assert.True(float.IsFinite(rows[1]) && float.IsFinite(rows[2]));
        LinearCrossEntropy.LossPerRow(h, w, b, [0, 0, 2], rows, options: new() { Reduction = Reduction.None, LabelSmoothing = 0.1f });
        Assert.All(rows, r => Assert.True(float.IsPositiveInfinity(r)));
        // Every logit -inf: NaN. Large finite logits do not overflow.
        var allMasked = Enumerable.Repeat(float.NegativeInfinity, v).ToArray();
        Assert.True(float.IsNaN(LinearCrossEntropy.Loss(h, w, allMasked, [0, 0, 0])));
        var big = w.Select(x => x * 1000).ToArray();
        var reference = new LinearReference(h, big, null, [0, 3, 2], new CrossEntropyOptions());
        LinearReference.AssertClose(reference.Loss, LinearCrossEntropy.Loss(h, big, [0, 3, 2]), Relative, "large logits");
    }

    [Fact]
    public void BadInputs_Throw_BeforeWriting()
    {
        int n = 4, d = 3, v = 5;
        var h = new float[n * d];
        var w = new float[v * d];
        var dh = Enumerable.Repeat(7f, n * d).ToArray();
        var dw = Enumerable.Repeat(7f, v * d).ToArray();
        int[] y = [0, 1, 2, 3];
        Assert.Throws<ArgumentOutOfRangeException>(() => LinearCrossEntropy.LossAndGradients(h, w, [0, 1, 5, 3], new(dh, dw)));
        Assert.Throws<ArgumentException>(() => LinearCrossEntropy.LossAndGradients(h.AsSpan(0, 11), w, y, new(dh, dw)));
        Assert.Throws<ArgumentException>(() => LinearCrossEntropy.LossAndGradients(h, w.AsSpan(0, 14), y, new(dh, dw)));
        Assert.Throws<ArgumentException>(() => LinearCrossEntropy.LossAndGradients(h, w, y, new(dh.AsSpan(0, 11), dw)));
        Assert.Throws<ArgumentException>(() => LinearCrossEntropy.LossAndGradients(h, w, y, new(dh, dw.AsSpan(0, 14))));
        Assert.Throws<ArgumentOutOfRangeException>(() => LinearCrossEntropy.LossAndGradients(h, w, y, new(dh, dw), new CrossEntropyOptions { LabelSmoothing = 1.5f }));
        Assert.Throws<ArgumentOutOfRangeException>(() => LinearCrossEntropy.LossAndGradients(h, w, y, new(dh, dw), new CrossEntropyOptions { Reduction = (Reduction)7 }));
        Assert.Throws<ArgumentException>(() => LinearCrossEntropy.LossAndGradients(h, w, y, new(dh, dw), new CrossEntropyOptions { ClassWeights = new float[4] }));
        Assert.Throws<ArgumentException>(() => LinearCrossEntropy.LossAndGradients(h, w, y, new(dh, dw), new CrossEntropyOptions { Reduction = Reduction.None }));
        Assert.Throws<ArgumentException>(() => LinearCrossEntropy.LossAndGradients(h, w, new float[4], y, new(dh, dw)));
        Assert.Equal("options", Assert.Throws<ArgumentOutOfRangeException>(() => LinearCrossEntropy.LossAndGradients(h, w, y, new(dh, dw), new LinearCrossEntropyOptions { FilterThreshold = -1 })).ParamName);
        Assert.Throws<ArgumentException>(() => LinearCrossEntropy.LossAndGradients(h, w, y, new(dh, dw, new float[3])));
        Assert.Throws<ArgumentException>(() => LinearCrossEntropy.Gradients(h, w, [], y, new float[n], new(dh, dw), new float[3]));
        Assert.Throws<ArgumentException>(() => LinearCrossEntropy.Gradients(h, w, [], y, new float[3], new(dh, dw)));
        Assert.Throws<ArgumentException>(() => LinearCrossEntropy.Loss(h, w, y, new CrossEntropyOptions { Reduction = Reduction.None }));
        Assert.All(dh, x => Assert.Equal(7f, x));
        Assert.All(dw, x => Assert.Equal(7f, x));
    }

    [Fact]
    public void OutputsOverlappingAnInputOrEachOther_Throw_BeforeWriting()
    {
        // Each was accepted and gave wrong numbers (found by an API sweep): dh over h or over the per-row upstream,
        // dW over W, dBias over the bias, dh and dW in one buffer, the losses over the upstream.
        int n = 5, d = 3, v = 7;
        var rng = new Random(3);
        var h = RandomArray(rng, n * d, 1);
        var w = RandomArray(rng, v * d, 1);
        var b = RandomArray(rng, v, 1);
        int[] y = [0, 6, -100, 3, 2];
        float[] up = [1, -2, 3, 0.5f, 2];
        var (hCopy, wCopy, bCopy, upCopy) = ((float[])h.Clone(), (float[])w.Clone(), (float[])b.Clone(), (float[])up.Clone());
        var dh = Enumerable.Repeat(7f, n * d).ToArray();
        var dw = Enumerable.Repeat(7f, v * d).ToArray();
        var db = Enumerable.Repeat(7f, v).ToArray();
        var both = Enumerable.Repeat(7f, v * d).ToArray();
        Assert.Equal("dHidden", Assert.Throws<ArgumentException>(() => LinearCrossEntropy.Gradients(h, w, b, y, up, new(h, dw))).ParamName);
        Assert.Equal("dWeight", Assert.Throws<ArgumentException>(() => LinearCrossEntropy.LossAndGradients(h, w, b, y, new(dh, w))).ParamName);
        Assert.Equal("dBias", Assert.Throws<ArgumentException>(() => LinearCrossEntropy.LossAndGradients(h, w, b, y, new(dh, dw, b))).ParamName);
        Assert.Equal("dHidden", Assert.Throws<ArgumentException>(() => LinearCrossEntropy.Gradients(h, w, b, y, dh.AsSpan(1, n), new(dh, dw))).ParamName);
        Assert.Throws<ArgumentException>(() => LinearCrossEntropy.Gradients(h, w, b, y, up, new(both.AsSpan(0, n * d), both)));
        Assert.Equal("losses", Assert.Throws<ArgumentException>(() => LinearCrossEntropy.Gradients(h, w, b, y, up, new(dh, dw), up)).ParamName);
        Assert.Equal("losses", Assert.Throws<ArgumentException>(() => LinearCrossEntropy.LossPerRow(h, w, b, y, db.AsSpan(0, n), db.AsSpan(1, n))).ParamName);
        Assert.Equal("entropy", Assert.Throws<ArgumentException>(() => LinearCrossEntropy.LogProbabilities(h, w, b, y, dh.AsSpan(0, n), default, h.AsSpan(2, n))).ParamName);
        var hb = h.Select(x => (BFloat16)x).ToArray();
        var wb = w.Select(x => (BFloat16)x).ToArray();
        Assert.Equal("dHidden", Assert.Throws<ArgumentException>(() => LinearCrossEntropy.Gradients(hb, wb, b, y, up,
            new(MemoryMarshal.Cast<BFloat16, float>(hb.AsSpan()), dw))).ParamName);
        Assert.Equal(hCopy, h);
        Assert.Equal(wCopy, w);
        Assert.Equal(bCopy, b);
        Assert.Equal(upCopy, up);
        Assert.All(dh.Concat(dw).Concat(db).Concat(both), x => Assert.Equal(7f, x));
    }

    private static void CheckAgainstReference(Random rng, int n, int d, int v, CrossEntropyOptions o, bool withBias, float scaleLogits)
    {
        var h = RandomArray(rng, n * d, scaleLogits / MathF.Sqrt(d));
        var w = RandomArray(rng, v * d, 1);
        var b = withBias ? RandomArray(rng, v, 1) : null;
        var y = Enumerable.Range(0, n).Select(i => i % 5 == 3 ? o.IgnoreIndex : rng.Next(v)).ToArray();
        var up = o.Reduction == Reduction.None ? RandomArray(rng, n, 1) : null;
        var reference = new LinearReference(h, w, b, y, o, up, upstream: 0.75f);
        string what = $"N={n} D={d} V={v} {o}";

        var rows = new float[n];
        var lse = new float[n];
        LinearCrossEntropy.LossPerRow(h, w, b, y, rows, lse, o);
        bool reduced = o.Reduction != Reduction.None;
        float loss = reduced ? LinearCrossEntropy.Loss(h, w, b, y, o) : float.NaN;
        LinearReference.AssertClose(reference.Loss, reduced ? loss : rows.Sum(x => (double)x), Relative, "loss " + what);
        if (reduced && b == null)
        {
            LinearReference.AssertClose(reference.Loss, LinearCrossEntropy.Loss(h, w, y, o), Relative, "contract loss " + what);
        }

        for (int i = 0; i < n; i++)
        {
            LinearReference.AssertClose(reference.RowLosses[i], rows[i], Relative, $"row {i} " + what);
            LinearReference.AssertClose(reference.Lse[i], lse[i], Relative, $"lse {i} " + what);
        }

        var dh = Enumerable.Repeat(float.NaN, n * d).ToArray();
        var dw = Enumerable.Repeat(float.NaN, v * d).ToArray();
        var db = new float[v];
        var rows2 = new float[n];
        var lse2 = new float[n];
        if (reduced)
        {
            float loss2 = LinearCrossEntropy.LossAndGradients(h, w, b, y, new(dh, dw, db), 0.75f, lse2, o);
            Assert.Equal(loss, loss2);
        }
        else
        {
            LinearCrossEntropy.Gradients(h, w, b, y, up, new(dh, dw, db), rows2, lse2, o);
            Assert.Equal(rows, rows2);
        }

        Assert.Equal(lse, lse2);
        LinearReference.AssertGradient(reference.DHidden, reference.DHiddenBound, dh, Relative, "dHidden " + what);
        LinearReference.AssertGradient(reference.DWeight, reference.DWeightBound, dw, Relative, "dWeight " + what);
        LinearReference.AssertGradient(reference.DBias, reference.DBiasBound, db, Relative, "dBias " + what);
    }

    // The loss in float64 throughout, straight from the spec, for finite differences (Mean reduction).
    private static double Float64Loss(double[] h, double[] w, double[] b, int[] y, int n, int d, int v, CrossEntropyOptions o)
    {
        var cw = o.ClassWeights.Span;
        double e = o.LabelSmoothing, s = o.SoftCap, wSum = 0, main = 0, zs = 0, keptW = 0;
        int kept = 0;
        for (int c = 0; c < v; c++)
        {
            wSum += cw[c];
        }

        var z = new double[v];
        for (int t = 0; t < n; t++)
        {
            if (y[t] == o.IgnoreIndex)
            {
                continue;
            }

            double m = double.NegativeInfinity;
            for (int c = 0; c < v; c++)
            {
                double x = b[c];
                for (int k = 0; k < d; k++)
                {
                    x += h[(t * d) + k] * w[(c * d) + k];
                }

                z[c] = s > 0 ? s * Math.Tanh(x / s) : x;
                m = Math.Max(m, z[c]);
            }

            double sum = 0, smooth = 0;
            for (int c = 0; c < v; c++)
            {
                sum += Math.Exp(z[c] - m);
            }

            double lse = m + Math.Log(sum);
            for (int c = 0; c < v; c++)
            {
                smooth += cw[c] * (lse - z[c]);
            }

            main += ((1 - e) * cw[y[t]] * (lse - z[y[t]])) + (e / v * smooth);
            zs += o.ZLoss * lse * lse;
            keptW += cw[y[t]];
            kept++;
        }

        return (main / keptW) + (zs / kept);
    }

    private static void CheckFiniteDifferences(double[] x, Func<double> f, float[] analytic, string what)
    {
        const double step = 1e-5;
        for (int i = 0; i < x.Length; i++)
        {
            double old = x[i];
            x[i] = old + step;
            double up = f();
            x[i] = old - step;
            double down = f();
            x[i] = old;
            double fd = (up - down) / (2 * step);
            Assert.True(Math.Abs(fd - analytic[i]) <= (2e-4 * Math.Abs(fd)) + 2e-6, $"{what}[{i}]: finite difference {fd}, analytic {analytic[i]}");
        }
    }

    private static double[] Add(double[] x, float[] y, bool abs = false) => x.Select((a, i) => a + (abs ? Math.Abs(y[i]) : y[i])).ToArray();

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
