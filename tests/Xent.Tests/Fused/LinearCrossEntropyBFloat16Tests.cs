using Xent.Fused;
using Xent.Tests.Core;

namespace Xent.Tests.Fused;

/// <summary>bfloat16 hidden states and weight: the float64 reference of the same values, float gradients.</summary>
public class LinearCrossEntropyBFloat16Tests
{

    /// <summary>
    /// Every bfloat16 entry point is the float call on the widened values, bitwise, widened tile by tile inside the
    /// kernel: several token blocks (the last partial), several vocabulary groups and tiles, odd D, a bias, cached and
    /// recomputed tiles, the filtered (sparse) backward, every width and thread count.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void EveryEntryPoint_EqualsTheFloatCallOnTheWidenedValues_Bitwise(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        const int n = 300, d = 37, v = 1100;
        var random = new Random(8);
        var hidden = Enumerable.Range(0, n * d).Select(_ => (BFloat16)((4 * random.NextSingle()) - 2)).ToArray();
        var weight = Enumerable.Range(0, v * d).Select(_ => (BFloat16)((2 * random.NextSingle()) - 1)).ToArray();
        var bias = Enumerable.Range(0, v).Select(_ => random.NextSingle()).ToArray();
        var h = hidden.Select(x => (float)x).ToArray();
        var w = weight.Select(x => (float)x).ToArray();
        var y = TestData.Targets(n, v, 8, ignoreEvery: 7);
        var up = Enumerable.Range(0, n).Select(_ => random.NextSingle() - 0.5f).ToArray();
        var gLse = Enumerable.Range(0, n).Select(_ => random.NextSingle() - 0.5f).ToArray();
        foreach (long cache in new[] { -1L, 0L })
        {
            using var budget = FusedKernel.OverrideCache(cache < 0 ? LinearCrossEntropyOptions.Default.CacheBytes : cache);
            foreach (int threads in TestData.ThreadCounts)
            {
                var ce = new CrossEntropyOptions { LabelSmoothing = 0.05f, ZLoss = 1e-3f, SoftCap = 20f, MaxDegreeOfParallelism = threads };
                string what = $"{width} {threads} threads, cache {cache}";
                Assert.True(LinearCrossEntropy.Loss(h, w, bias, y, ce) == LinearCrossEntropy.Loss(hidden, weight, bias, y, ce), what);
                Assert.Equal(LinearCrossEntropy.LossWithParts(h, w, bias, y, ce), LinearCrossEntropy.LossWithParts(hidden, weight, bias, y, ce));
                Assert.Equal(Rows((r, l) => LinearCrossEntropy.LossPerRow(h, w, bias, y, r, l, ce)), Rows((r, l) => LinearCrossEntropy.LossPerRow(hidden, weight, bias, y, r, l, ce)));

                foreach (float filter in new[] { 0f, 1e-4f })
                {
                    var o = new LinearCrossEntropyOptions { CrossEntropy = ce, FilterThreshold = filter };
                    var (fl, fg) = Gradients(n, d, v, (g, l) => LinearCrossEntropy.LossAndGradients(h, w, bias, y, g, 0.5f, l, o, gLse));
                    var (bl, bg) = Gradients(n, d, v, (g, l) => LinearCrossEntropy.LossAndGradients(hidden, weight, bias, y, g, 0.5f, l, o, gLse));
                    Assert.True(fl == bl, what + $" filter {filter}");
                    Assert.Equal(fg, bg);

                    var none = new LinearCrossEntropyOptions { CrossEntropy = ce with { Reduction = Reduction.None }, FilterThreshold = filter };
                    (_, fg) = Gradients(n, d, v, (g, l) => { LinearCrossEntropy.Gradients(h, w, bias, y, up, g, default, l, none, gLse); return 0; });
                    (_, bg) = Gradients(n, d, v, (g, l) => { LinearCrossEntropy.Gradients(hidden, weight, bias, y, up, g, default, l, none, gLse); return 0; });
                    Assert.Equal(fg, bg);
                }

                var plain = new CrossEntropyOptions { SoftCap = 20f, MaxDegreeOfParallelism = threads };
                Assert.Equal(Rows((r, l) => LinearCrossEntropy.LogProbabilities(h, w, bias, y, r, l, default, plain)),
                    Rows((r, l) => LinearCrossEntropy.LogProbabilities(hidden, weight, bias, y, r, l, default, plain)));
                var lo = new LinearCrossEntropyOptions { CrossEntropy = plain };
                var (_, lf) = Gradients(n, d, v, (g, l) => { LinearCrossEntropy.LogProbabilityGradients(h, w, bias, y, up, g, default, l, default, lo, gLse); return 0; });
                var (_, lb) = Gradients(n, d, v, (g, l) => { LinearCrossEntropy.LogProbabilityGradients(hidden, weight, bias, y, up, g, default, l, default, lo, gLse); return 0; });
                Assert.Equal(lf, lb);
            }
        }
    }

    /// <summary>Per-row outputs r [N] and lse [N] of one call, concatenated.</summary>
    private static float[] Rows(Action<float[], float[]> call)
    {
        var r = new float[300];
        var l = new float[300];
        call(r, l);
        return [.. r, .. l];
    }

    /// <summary>A gradient call's loss and its lse, dh, dW and dBias, concatenated.</summary>
    private static (float Loss, float[] All) Gradients(int n, int d, int v, Func<LinearCrossEntropyGradients, float[], float> call)
    {
        var dh = new float[n * d];
        var dw = new float[v * d];
        var db = new float[v];
        var lse = new float[n];
        float loss = call(new LinearCrossEntropyGradients(dh, dw, db), lse);
        return (loss, [.. lse, .. dh, .. dw, .. db]);
    }

    [Fact]
    public void MatchesTheReferenceOfTheSameValues()
    {
        const int n = 37, d = 24, v = 700;
        var random = new Random(4);
        var hidden = Enumerable.Range(0, n * d).Select(_ => (BFloat16)((2 * random.NextSingle()) - 1)).ToArray();
        var weight = Enumerable.Range(0, v * d).Select(_ => (BFloat16)((2 * random.NextSingle()) - 1)).ToArray();
        var targets = TestData.Targets(n, v, 4, ignoreEvery: 5);
        var h = hidden.Select(x => (float)x).ToArray();
        var w = weight.Select(x => (float)x).ToArray();
        foreach (var o in new CrossEntropyOptions[] { new(), new() { Reduction = Reduction.Sum, LabelSmoothing = 0.1f, ZLoss = 1e-3f } })
        {
            var reference = new LinearReference(h, w, null, targets, o);
            var dh = new float[n * d];
            var dw = new float[v * d];
            float loss = LinearCrossEntropy.LossAndGradients(hidden, weight, targets, new(dh, dw), o);
            Close.Scalar(reference.Loss, loss, relative: 1e-5);
            Assert.Equal(loss, LinearCrossEntropy.Loss(hidden, weight, targets, o));

            // The float kernel on the widened values, bitwise.
            var dhf = new float[n * d];
            var dwf = new float[v * d];
            Assert.Equal(LinearCrossEntropy.LossAndGradients(h, w, targets, new(dhf, dwf), o), loss);
            Assert.Equal(dhf, dh);
            Assert.Equal(dwf, dw);
            LinearReference.AssertGradient(reference.DHidden, reference.DHiddenBound, dh, 1e-4, "dh");
            LinearReference.AssertGradient(reference.DWeight, reference.DWeightBound, dw, 1e-4, "dW");
        }
    }
}
