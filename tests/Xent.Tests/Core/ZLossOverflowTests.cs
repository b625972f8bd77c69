using Xent.Kernels;
using Xent.Reference;

namespace Xent.Tests.Core;

/// <summary>
/// z-loss where its multiplier of p, K = 2 b l lse, is beyond float's range: logits at float.MaxValue, or a z-loss
/// coefficient of 1e38. K as a float is then infinite, and K p with p = 0 would be inf x 0 = NaN where the float64
/// reference gives 0 (or, with smoothing, -C1 w). Every path must give the reference rounded to float: 0 where p is
/// 0, +-inf where the reference's gradient is beyond float, and the finite K p where it is not.
/// </summary>
public class ZLossOverflowTests
{
    private const float Max = float.MaxValue;

    /// <summary>Rows whose K overflows float: the z-loss coefficient, the rows, their targets.</summary>
    public static TheoryData<string> Cases() => new("max ties", "max alone", "huge coefficient", "huge coefficient, masked", "huge coefficient, capped");

    internal static (float[] X, int[] Y, int V, CrossEntropyOptions Options) Case(string name, int v)
    {
        var x = new float[3 * v];
        var y = new int[3];
        CrossEntropyOptions o;
        switch (name)
        {
            case "max ties":
                // [Max, Max, 1, ...]: lse = Max + ln 2, p = 1/2 at the two maxima, 0 elsewhere. K = 2 b l lse / 2 = 4 b Max.
                for (int n = 0; n < 3; n++)
                {
                    for (int c = 0; c < v; c++)
                    {
                        x[(n * v) + c] = c < 2 ? Max : 1f + (c % 5);
                    }
                }

                y = [Math.Min(2, v - 1), 0, 1];
                o = new CrossEntropyOptions { ZLoss = 4f };
                break;
            case "max alone":
                // One column at 1e38, one at -Max, the rest small: p = 1 there, 0 elsewhere; K = 2 b l 1e38 overflows.
                for (int n = 0; n < 3; n++)
                {
                    for (int c = 0; c < v; c++)
                    {
                        x[(n * v) + c] = c == n % v ? 1e38f : c == (n + 1) % v ? -Max : 0.5f * (c % 3);
                    }
                }

                y = [v - 1, 0, -100];
                o = new CrossEntropyOptions { ZLoss = 3f, LabelSmoothing = 0.1f };
                break;
            default:
                // Moderate logits, l = 1e38: lse ~ 1.4, K ~ 4e38 (beyond float) but K p ~ 1e38 (within it); the loss
                // l lse^2 ~ 1.9e38 is still a float. Masked columns (-inf, -1e30) and -200 have p = 0 in float.
                for (int n = 0; n < 3; n++)
                {
                    for (int c = 0; c < v; c++)
                    {
                        bool masked = name.EndsWith("masked", StringComparison.Ordinal);
                        x[(n * v) + c] = c < 4 ? 0f : !masked ? -200f - c : (c % 2 == 0 ? float.NegativeInfinity : -1e30f);
                    }
                }

                y = [0, Math.Min(3, v - 1), v - 1];
                o = new CrossEntropyOptions { ZLoss = 1e38f, SoftCap = name.EndsWith("capped", StringComparison.Ordinal) ? 30f : 0f };
                break;
        }

        return (x, y, v, o);
    }

    /// <summary>The reference's value as the float it rounds to, against a float result.</summary>
    internal static void Rounded(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, int classes, string what, double relative = 1e-5, double floor = 1e-6, double absolute = 1e-30)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int start = 0; start < expected.Length; start += classes)
        {
            double scale = 0;
            for (int c = 0; c < classes; c++)
            {
                float e = (float)expected[start + c];
                if (float.IsFinite(e))
                {
                    scale = Math.Max(scale, Math.Abs(e));
                }
            }

            for (int c = 0; c < classes; c++)
            {
                float e = (float)expected[start + c], a = actual[start + c];
                bool ok = float.IsFinite(e) ? Math.Abs((double)e - a) <= (relative * Math.Abs(e)) + (floor * scale) + absolute : e.Equals(a);
                Assert.True(ok, $"{what} [{start / classes}, {c}]: expected {e:R} ({expected[start + c]:R}), got {a:R}");
            }
        }
    }

    internal static void Rounded(double expected, float actual, string what)
    {
        float e = (float)expected;
        bool ok = float.IsFinite(e) ? Math.Abs((double)e - actual) <= 1e-5 * Math.Abs(e) : e.Equals(actual);
        Assert.True(ok, $"{what}: expected {e:R} ({expected:R}), got {actual:R}");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ClassIndexGradientMatchesTheReference(string name)
    {
        foreach (int v in new[] { 3, 17, 40, 1000, 5000 })
        {
            var (x, y, _, o) = Case(name, v);
            var upstream = new[] { -0.75f, 0.25f, 1.25f };
            var expectedRows = CrossEntropyReference.RowLosses(x, y, o);
            var expectedSum = CrossEntropyReference.Gradient(x, y, o with { Reduction = Reduction.Sum }, 1.5);
            var expectedMean = CrossEntropyReference.Gradient(x, y, o with { Reduction = Reduction.Mean }, 1.5);
            var expectedRow = CrossEntropyReference.Gradient(x, y, upstream.Select(u => (double)u).ToArray(), o);
            foreach (var width in Simd.Supported())
            {
                using var scope = Simd.Override(width);
                foreach (bool store in new[] { false, true })
                {
                    using var stored = CrossEntropyKernel.OverrideStoredExponentials(store);
                    foreach (int threads in new[] { 1, 2 })
                    {
                        var ot = o with { MaxDegreeOfParallelism = threads };
                        string at = $"{name} V={v} {width} store={store} t{threads}";
                        var losses = new float[3];
                        CrossEntropy.LossPerRow(x, y, losses, ot);
                        Rounded(expectedRows, losses, 3, $"{at} rows");

                        var g = new float[x.Length];
                        CrossEntropy.LossAndGradient(x, y, g, 1.5f, default, ot with { Reduction = Reduction.Sum });
                        Rounded(expectedSum, g, v, $"{at} sum");
                        var inPlace = (float[])x.Clone();
                        CrossEntropy.LossAndGradient(inPlace, y, inPlace, 1.5f, default, ot with { Reduction = Reduction.Sum });
                        Assert.Equal(g, inPlace);

                        CrossEntropy.LossAndGradient(x, y, g, 1.5f, default, ot with { Reduction = Reduction.Mean });
                        Rounded(expectedMean, g, v, $"{at} mean");

                        CrossEntropy.Gradient(x, y, upstream, g, ot);
                        Rounded(expectedRow, g, v, $"{at} per row");

                        using (CrossEntropyKernel.OverrideStreamedBytes(0))
                        {
                            CrossEntropy.LossAndGradient(x, y, g, 1.5f, default, ot with { Reduction = Reduction.Sum });
                            Rounded(expectedSum, g, v, $"{at} sum streamed");
                        }
                    }
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ProbabilityTargetGradientMatchesTheReference(string name)
    {
        foreach (int v in new[] { 3, 17, 1000 })
        {
            var (x, _, _, o) = Case(name, v);
            var t = TestData.Probabilities(3, v, v);
            var expected = CrossEntropyReference.Gradient(x, t, v, o with { Reduction = Reduction.Sum });
            var expectedRows = CrossEntropyReference.RowLosses(x, t, v, o);
            foreach (var width in Simd.Supported())
            {
                using var scope = Simd.Override(width);
                string at = $"{name} V={v} {width}";
                var losses = new float[3];
                CrossEntropy.LossPerRow(x, t, v, losses, o);
                Rounded(expectedRows, losses, 3, $"{at} rows");
                var g = new float[x.Length];
                CrossEntropy.LossAndGradient(x, t, v, g, o with { Reduction = Reduction.Sum });
                Rounded(expected, g, v, $"{at} soft");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ShardedGradientMatchesTheReference(string name)
    {
        foreach (int v in new[] { 3, 40, 1000 })
        {
            var (x, y, _, o) = Case(name, v);
            var expected = CrossEntropyReference.Gradient(x, y, o with { Reduction = Reduction.Sum }, 1.5);
            var upstream = new[] { -0.75f, 0.25f, 1.25f };
            var expectedRow = CrossEntropyReference.Gradient(x, y, upstream.Select(u => (double)u).ToArray(), o);
            int cut = v / 2;
            foreach (var width in Simd.Supported())
            {
                using var scope = Simd.Override(width);
                var so = o with { Reduction = Reduction.Sum };
                var left = Columns(x, v, 0, cut);
                var right = Columns(x, v, cut, v);
                var merged = Enumerable.Repeat(CrossEntropyShardState.Empty, 3).ToArray();
                var s = new CrossEntropyShardState[3];
                CrossEntropyShards.Compute(left, 0, v, y, s, so);
                CrossEntropyShards.Merge(s, merged);
                CrossEntropyShards.Compute(right, cut, v, y, s, so);
                CrossEntropyShards.Merge(s, merged);
                var gl = new float[left.Length];
                var gr = new float[right.Length];
                CrossEntropyShards.Gradient(left, 0, v, y, merged, gl, 1.5f, so);
                CrossEntropyShards.Gradient(right, cut, v, y, merged, gr, 1.5f, so);
                Rounded(expected, Joined(gl, gr, cut, v), v, $"{name} V={v} {width} shards");
                CrossEntropyShards.Gradient(left, 0, v, y, merged, upstream, gl, o);
                CrossEntropyShards.Gradient(right, cut, v, y, merged, upstream, gr, o);
                Rounded(expectedRow, Joined(gl, gr, cut, v), v, $"{name} V={v} {width} shards per row");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void BFloat16GradientMatchesTheReference(string name)
    {
        foreach (int v in new[] { 3, 40, 1000 })
        {
            var (x, y, _, o) = Case(name, v);
            // float.MaxValue is beyond bfloat16 (it rounds to inf): its largest finite value instead.
            var b = x.Select(value => value == Max ? BFloat16.FromBits(0x7F7F) : (BFloat16)value).ToArray();
            var widened = b.Select(value => (float)value).ToArray();
            var expected = CrossEntropyReference.Gradient(widened, y, o with { Reduction = Reduction.Sum }, 1.5);
            foreach (var width in Simd.Supported())
            {
                using var scope = Simd.Override(width);
                foreach (bool store in new[] { false, true })
                {
                    using var stored = CrossEntropyKernel.OverrideStoredExponentials(store);
                    var g = new BFloat16[b.Length];
                    CrossEntropy.LossAndGradient(b, y, g, 1.5f, default, o with { Reduction = Reduction.Sum });
                    var roundedExpected = expected.Select(e => (double)(float)(BFloat16)e).ToArray();
                    Rounded(roundedExpected, g.Select(a => (float)a).ToArray(), v, $"{name} V={v} {width} store={store} bfloat16", relative: 1e-2);

                    var f = new float[b.Length];
                    CrossEntropy.LossAndGradient(b, y, f, 1.5f, default, o with { Reduction = Reduction.Sum });
                    Rounded(expected, f, v, $"{name} V={v} {width} store={store} bfloat16 logits, float gradient");
                }
            }
        }
    }

    [Theory]
    [InlineData("huge coefficient")]
    [InlineData("huge coefficient, masked")]
    public void HalfGradientMatchesTheReference(string name)
    {
        // Half holds neither float.MaxValue nor 1e38: only the cases with moderate logits, whose K p (1e38) is beyond
        // Half as well: +-inf where p > 0, 0 (not NaN) where p = 0. Not under a soft cap: there the float cap factor
        // 1 - u^2 is 0 where u rounds to +-1 (|z| within 2^-24 s of the cap), which the reference has at 1e-7; times
        // K p that is 0 where the reference's value is beyond Half (the float gradient's comparison, relative to the
        // row's largest value, does not see it).
        foreach (int v in new[] { 3, 40, 1000 })
        {
            var (x, y, _, o) = Case(name, v);
            var h = x.Select(value => (Half)value).ToArray();
            var widened = h.Select(value => (float)value).ToArray();
            var expected = CrossEntropyReference.Gradient(widened, y, o with { Reduction = Reduction.Sum }, 1.5);
            var roundedExpected = expected.Select(e => (double)(float)(Half)e).ToArray();
            foreach (var width in Simd.Supported())
            {
                using var scope = Simd.Override(width);
                foreach (bool store in new[] { false, true })
                {
                    using var stored = CrossEntropyKernel.OverrideStoredExponentials(store);
                    var g = new Half[h.Length];
                    CrossEntropy.LossAndGradient(h, y, g, 1.5f, default, o with { Reduction = Reduction.Sum });
                    Rounded(roundedExpected, g.Select(a => (float)a).ToArray(), v, $"{name} V={v} {width} store={store} Half", relative: 1e-2);
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void FusedWeightGradientMatchesTheReference(string name)
    {
        // D = 1 and h = 1: z[n, c] = W[c], every row the case's first row; dW[c] = sum_n dL/dz[n, c].
        foreach (int v in new[] { 3, 40, 1000 })
        {
            var (x, y, _, o) = Case(name, v);
            var w = x.AsSpan(0, v).ToArray();
            var logits = new float[3 * v];
            for (int n = 0; n < 3; n++)
            {
                w.CopyTo(logits, n * v);
            }

            var so = o with { Reduction = Reduction.Sum };
            var g = CrossEntropyReference.Gradient(logits, y, so, 1.5);
            var expected = new double[v];
            for (int c = 0; c < v; c++)
            {
                expected[c] = g[c] + g[v + c] + g[(2 * v) + c];
            }

            var h = new float[] { 1f, 1f, 1f };
            foreach (var width in Simd.Supported())
            {
                using var scope = Simd.Override(width);
                var dh = new float[3];
                var dw = new float[v];
                LinearCrossEntropy.LossAndGradients(h, w, [], y, new(dh, dw), 1.5f, default, so);
                Rounded(expected, dw, v, $"{name} V={v} {width} fused dW");
            }
        }
    }

    private static float[] Columns(float[] x, int v, int from, int to)
    {
        int rows = x.Length / v;
        var shard = new float[rows * (to - from)];
        for (int n = 0; n < rows; n++)
        {
            Array.Copy(x, (n * v) + from, shard, n * (to - from), to - from);
        }

        return shard;
    }

    private static float[] Joined(float[] left, float[] right, int cut, int v)
    {
        int rows = left.Length / Math.Max(cut, 1);
        rows = cut == 0 ? right.Length / (v - cut) : rows;
        var x = new float[rows * v];
        for (int n = 0; n < rows; n++)
        {
            Array.Copy(left, n * cut, x, n * v, cut);
            Array.Copy(right, n * (v - cut), x, (n * v) + cut, v - cut);
        }

        return x;
    }
}
