using Xent.Kernels;
using Xent.Reference;

namespace Xent.Tests.Core;

/// <summary>
/// Probability targets at a confident row: one logit 20, the rest in (-1, 1), V = 32000, so p = 1 - 7.8e-5 at the
/// leading column, and a target of about 1 there. dz = a (p sum w t' - w t') (+ the z-loss term) cancels to about
/// 1 - p: as float K p - w t' it kept only the ulp of 1 (1.2-3.8e-3 of dz one-hot, 1.3-4.8e-4 near one-hot, by the
/// options and width); the kernel rewrites that column in double from the row's lse, the target and the other
/// columns' weighted targets (summed apart from the leading one), so it holds 2e-5 of itself (the rest of the error
/// is the float sum of the small terms, s - 1, at the scalar width), with every option, at every width and thread
/// count, in place, streamed, and on rows split among threads; the same bits whichever rows share the call.
/// </summary>
public class ProbabilityTargetDominantPrecisionTests
{
    private const int V = 32000;
    private const double Tolerance = 2e-5;

    // First, middle, the second block's first column, the last whole chunk, the shifted-back last vector's lanes, last.
    private static readonly int[] Leads = [0, 12345, CrossEntropyKernel.BlockColumns, 31900, V - 3, V - 1, 20000, 7];

    public static TheoryData<string> OptionNames() => new(Options().Select(o => o.Name));

    [Theory]
    [MemberData(nameof(OptionNames))]
    public void TheLeadingColumnsGradientMatchesTheReference(string name)
    {
        var o = Options().Single(c => c.Name == name).Options;
        var x = Rows(seed: 1);
        foreach (var (targetName, t) in Targets(seed: 2))
        {
            double[] expected = CrossEntropyReference.Gradient(x, t, V, o);
            foreach (var width in Simd.Supported())
            {
                using var scope = Simd.Override(width);
                float[]? first = null;
                foreach (int threads in TestData.ThreadCounts)
                {
                    string what = $"{name}, {targetName}, {width} t{threads}";
                    var ot = o with { MaxDegreeOfParallelism = threads };
                    var g = new float[x.Length];
                    float loss = CrossEntropy.LossAndGradient(x, t, V, g, ot);
                    for (int r = 0; r < Leads.Length; r++)
                    {
                        int at = (r * V) + Leads[r];
                        Close.Scalar(expected[at], g[at], relative: Tolerance, absolute: 0, what: $"{what} row {r} dz[lead]");
                    }

                    // The other columns as the probability-target tests hold them (their p - t may cancel too, near one-hot).
                    Close.Gradient(expected, g, V, relative: 1e-5, floor: 1e-5, what: what);

                    first ??= g;
                    Assert.True(first.AsSpan().SequenceEqual(g), $"{what}: not the bits of one thread");

                    var inPlace = (float[])x.Clone();
                    Assert.Equal(loss, CrossEntropy.LossAndGradient(inPlace, t, V, inPlace, ot));
                    Assert.True(g.AsSpan().SequenceEqual(inPlace), $"{what}: in place differs");

                    using (CrossEntropyKernel.OverrideStreamedBytes(0))
                    {
                        var streamed = new float[x.Length];
                        Assert.Equal(loss, CrossEntropy.LossAndGradient(x, t, V, streamed, ot));
                        Assert.True(g.AsSpan().SequenceEqual(streamed), $"{what}: streamed differs");
                    }
                }

                if (o.Reduction == Reduction.Sum)
                {
                    // Each row alone: the same bits as in the batch.
                    for (int r = 0; r < Leads.Length; r++)
                    {
                        var alone = new float[V];
                        CrossEntropy.LossAndGradient(x.AsSpan(r * V, V), t.AsSpan(r * V, V), V, alone, o);
                        Assert.True(alone.AsSpan().SequenceEqual(first!.AsSpan(r * V, V)), $"{name}, {targetName}, {width} row {r}: alone differs");
                    }
                }
            }
        }
    }

    /// <summary>
    /// One long row split among threads (block ranges; V = 70001, the lead in the third block): the leading column found
    /// and rewritten as on one thread, bitwise, in place too.
    /// </summary>
    [Fact]
    public void SplitRowsRewriteTheLeadingColumnAlike()
    {
        const int v = 70001, lead = 40000;
        var random = new Random(3);
        var x = new float[v];
        for (int c = 0; c < v; c++)
        {
            x[c] = (float)((random.NextDouble() * 2) - 1);
        }

        x[lead] = 20f;
        x[5] = 12f; // the first block's own lead, below the row's
        var t = new float[v];
        t[lead] = 1f;
        foreach (var o in new[] { new CrossEntropyOptions { Reduction = Reduction.Sum }, new CrossEntropyOptions { SoftCap = 50f, ZLoss = 1e-5f, ClassWeights = TestData.Weights(v, 3) } })
        {
            double[] expected = CrossEntropyReference.Gradient(x, t, v, o);
            foreach (var width in Simd.Supported())
            {
                using var scope = Simd.Override(width);
                float[]? first = null;
                foreach (int threads in TestData.ThreadCounts)
                {
                    string what = $"{width} t{threads} cap {o.SoftCap}";
                    var ot = o with { MaxDegreeOfParallelism = threads };
                    var g = new float[v];
                    CrossEntropy.LossAndGradient(x, t, v, g, ot);
                    Close.Scalar(expected[lead], g[lead], relative: Tolerance, absolute: 0, what: $"{what} dz[lead]");
                    first ??= g;
                    Assert.True(first.AsSpan().SequenceEqual(g), $"{what}: not the bits of one thread");
                    var inPlace = (float[])x.Clone();
                    CrossEntropy.LossAndGradient(inPlace, t, v, inPlace, ot);
                    Assert.True(g.AsSpan().SequenceEqual(inPlace), $"{what}: in place differs");
                }
            }
        }
    }

    /// <summary>
    /// Ties at the max (in one block, and in two): no column has p above 1/2 and none is rewritten; a near tie (20 and
    /// 19.99, p = 0.5025) has its lead rewritten. Both match the reference, in place too (the sum beside the ties' 1s:
    /// <see cref="TiedMaxSumTests"/>).
    /// </summary>
    [Fact]
    public void TiesAtTheMaxMatchTheReference()
    {
        int[][] tops = [[100, 200], [100, 20000], [31999, 16384]];
        var random = new Random(4);
        var x = new float[(tops.Length + 1) * V];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (float)((random.NextDouble() * 2) - 1);
        }

        var t = new float[x.Length];
        for (int r = 0; r < tops.Length; r++)
        {
            x[(r * V) + tops[r][0]] = 20f;
            x[(r * V) + tops[r][1]] = 20f;
            t[(r * V) + tops[r][0]] = 1f;
        }

        int near = tops.Length * V;
        x[near + 300] = 19.99f;
        x[near + 20000] = 20f;
        t[near + 300] = 0.5f;
        t[near + 20000] = 0.5f;
        foreach (var o in new[] { new CrossEntropyOptions { Reduction = Reduction.Sum }, new CrossEntropyOptions { LabelSmoothing = 0.1f, ZLoss = 1e-4f, SoftCap = 30f } })
        {
            double[] expected = CrossEntropyReference.Gradient(x, t, V, o);
            foreach (var width in Simd.Supported())
            {
                using var scope = Simd.Override(width);
                foreach (int threads in TestData.ThreadCounts)
                {
                    string what = $"ties, {width} t{threads} smoothing {o.LabelSmoothing}";
                    var ot = o with { MaxDegreeOfParallelism = threads };
                    var g = new float[x.Length];
                    CrossEntropy.LossAndGradient(x, t, V, g, ot);
                    Close.Gradient(expected, g, V, what: what);
                    var inPlace = (float[])x.Clone();
                    CrossEntropy.LossAndGradient(inPlace, t, V, inPlace, ot);
                    Assert.True(g.AsSpan().SequenceEqual(inPlace), $"{what}: in place differs");
                }
            }
        }
    }

    private static IEnumerable<(string Name, CrossEntropyOptions Options)> Options()
    {
        var weights = TestData.Weights(V, 5);
        yield return ("plain", new CrossEntropyOptions { Reduction = Reduction.Sum });
        yield return ("mean", new CrossEntropyOptions());
        yield return ("weights", new CrossEntropyOptions { Reduction = Reduction.Sum, ClassWeights = weights });
        yield return ("smoothing", new CrossEntropyOptions { Reduction = Reduction.Sum, LabelSmoothing = 0.1f });
        yield return ("smoothing, weights", new CrossEntropyOptions { LabelSmoothing = 0.1f, ClassWeights = weights });
        yield return ("soft cap", new CrossEntropyOptions { Reduction = Reduction.Sum, SoftCap = 50f });
        yield return ("z-loss", new CrossEntropyOptions { Reduction = Reduction.Sum, ZLoss = 1e-5f });
        yield return ("all", new CrossEntropyOptions { ClassWeights = weights, LabelSmoothing = 1e-4f, SoftCap = 50f, ZLoss = 1e-6f });
    }

    /// <summary>Rows of logits in (-1, 1) but one of 20 at <see cref="Leads"/>; the last two rows' other block leads with 10 of its own.</summary>
    private static float[] Rows(int seed)
    {
        var random = new Random(seed);
        var x = new float[Leads.Length * V];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (float)((random.NextDouble() * 2) - 1);
        }

        for (int r = 0; r < Leads.Length; r++)
        {
            x[(r * V) + Leads[r]] = 20f;
        }

        // The row led at 20000 (second block): its first block has a lead of its own, lower (p 0.53 within the block, 2e-4
        // in the row); the row led at 7 likewise in its second block.
        x[((Leads.Length - 2) * V) + 5] = 10f;
        x[((Leads.Length - 1) * V) + 20000] = 10f;
        return x;
    }

    /// <summary>One-hot on the lead; 0.999 there and 1e-3 spread over the rest; all of it elsewhere (no cancellation).</summary>
    private static IEnumerable<(string Name, float[] Targets)> Targets(int seed)
    {
        var random = new Random(seed);
        var oneHot = new float[Leads.Length * V];
        var near = new float[oneHot.Length];
        var elsewhere = new float[oneHot.Length];
        for (int r = 0; r < Leads.Length; r++)
        {
            oneHot[(r * V) + Leads[r]] = 1f;
            elsewhere[(r * V) + ((Leads[r] + 1) % V)] = 1f;
            var u = new double[V];
            double sum = 0;
            for (int c = 0; c < V; c++)
            {
                double a = random.NextDouble();
                u[c] = c == Leads[r] ? 0 : a * a * a;
                sum += u[c];
            }

            for (int c = 0; c < V; c++)
            {
                near[(r * V) + c] = c == Leads[r] ? 0.999f : (float)(1e-3 * u[c] / sum);
            }
        }

        yield return ("one-hot", oneHot);
        yield return ("near one-hot", near);
        yield return ("elsewhere", elsewhere);
    }
}
