using Xent.Distributed;
using Xent.Distributed.InProcess;
using Xent.Distributed.MpiCheck;
using Xent.Distributed.Vocabulary;
using Xent.Reference;
using Xent.Tests.Fused;

namespace Xent.Tests.Distributed;

/// <summary>
/// The vocabulary-parallel CrossEntropy and LinearCrossEntropy on 1, 2 and 3 in-process ranks: every option agrees
/// with the one-process call (the same checks as under mpirun), with the float64 references, and is bitwise the same
/// from run to run.
/// </summary>
public class VocabParallelTests
{
    public static TheoryData<int, int> ProblemsAndRanks()
    {
        var data = new TheoryData<int, int>();
        for (int p = 0; p < Problem.All().Count; p++)
        {
            foreach (int k in new[] { 1, 2, 3 })
            {
                data.Add(p, k);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ProblemsAndRanks))]
    public void EveryOption_AgreesWithOneProcess(int problem, int ranks)
    {
        var p = Problem.All()[problem];
        var failures = new List<string>[ranks];
        InProcessGroup.Run(ranks, c => failures[c.Rank] = Agreement.Check(c, p));
        Assert.All(failures, f => Assert.True(f.Count == 0, string.Join('\n', f)));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Linear_AgreesWithTheFloat64Reference(int ranks) =>
        AssertLinearMatchesReference(Problem.All(n: 150, v: 301, d: 24).Single(x => x.Name == "everything, mean, bias"), ranks);

    // Vocabulary 1 makes every probability 1, so each gradient entry is what is left of cancelling terms: it is
    // compared with the float64 reference relative to the size of its terms, as the one-process tests do.
    [Theory]
    [InlineData(1, 3)]
    [InlineData(2, 3)]
    [InlineData(5, 2)]
    public void TinyVocabularies_EmptySlices(int classes, int ranks) =>
        AssertLinearMatchesReference(new Problem("tiny", 10, classes, 4, 3, new LinearCrossEntropyOptions { CrossEntropy = new() { LabelSmoothing = 0.1f, ZLoss = 1e-3f } }, bias: true), ranks);

    private static void AssertLinearMatchesReference(Problem p, int ranks)
    {
        var reference = new LinearReference(p.Hidden, p.Weight, p.Bias.Length == 0 ? null : p.Bias, p.Targets, p.Loss, upstream: p.Upstream);
        var dh = new float[ranks][];
        var dw = new float[p.Weight.Length];
        var db = new float[p.V];
        var losses = new float[ranks];
        InProcessGroup.Run(ranks, c =>
        {
            var s = VocabularySlice.For(p.V, c);
            dh[c.Rank] = new float[p.Hidden.Length];
            losses[c.Rank] = VocabParallelLinearCrossEntropy.LossAndGradients(c, p.Hidden, p.Weight.AsSpan(s.Offset * p.D, s.Width * p.D), p.Bias.AsSpan(s.Offset, s.Width),
                p.V, p.Targets, new(dh[c.Rank], dw.AsSpan(s.Offset * p.D, s.Width * p.D), db.AsSpan(s.Offset, s.Width)), p.Upstream, options: p.Options);
        });
        foreach (float loss in losses)
        {
            LinearReference.AssertClose(reference.Loss, loss, 1e-6, "loss");
        }

        foreach (var d in dh)
        {
            Assert.Equal(dh[0], d); // the same dh on every rank
        }

        LinearReference.AssertGradient(reference.DHidden, reference.DHiddenBound, dh[0], 1e-5, "dHidden");
        LinearReference.AssertGradient(reference.DWeight, reference.DWeightBound, dw, 1e-5, "dWeight");
        LinearReference.AssertGradient(reference.DBias, reference.DBiasBound, db, 1e-5, "dBias");
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Logits_AgreeWithTheFloat64Reference(int ranks)
    {
        var p = Problem.All(n: 40, v: 301, d: 8).Single(x => x.Name == "everything, sum, accumulate");
        double expected = CrossEntropyReference.Loss(p.Logits, p.Targets, p.Loss);
        var gradient = CrossEntropyReference.Gradient(p.Logits, p.Targets, p.Loss, upstream: 2);
        InProcessGroup.Run(ranks, c =>
        {
            var s = VocabularySlice.For(p.V, c);
            var shard = Agreement.Columns(p.Logits, p.N, p.V, s.Offset, s.Width);
            float loss = VocabParallelCrossEntropy.LossAndGradient(c, shard, p.V, p.Targets, shard, 2f, p.Loss); // in place
            LinearReference.AssertClose(expected, loss, 1e-6, $"rank {c.Rank} loss");
            for (int n = 0; n < p.N; n++)
            {
                for (int j = 0; j < s.Width; j++)
                {
                    double e = gradient[(n * p.V) + s.Offset + j];
                    Assert.True(Math.Abs(shard[(n * s.Width) + j] - e) <= 1e-5 * (Math.Abs(e) + 1e-3), $"rank {c.Rank} gradient [{n}, {s.Offset + j}]: expected {e}, got {shard[(n * s.Width) + j]}");
                }
            }
        });
    }

    [Fact]
    public void RunToRun_BitwiseIdentical_ForAGivenRankCount()
    {
        var p = Problem.All(n: 200, v: 501, d: 16).Single(x => x.Name == "everything, none, bias");
        float[] Once()
        {
            var dh = new float[p.Hidden.Length];
            InProcessGroup.Run(3, c =>
            {
                var s = VocabularySlice.For(p.V, c);
                var local = new float[dh.Length];
                VocabParallelLinearCrossEntropy.Gradients(c, p.Hidden, p.Weight.AsSpan(s.Offset * p.D, s.Width * p.D), p.Bias.AsSpan(s.Offset, s.Width),
                    p.V, p.Targets, p.RowUpstream, new(local, new float[s.Width * p.D]), options: p.Options);
                if (c.Rank == 1)
                {
                    local.CopyTo(dh, 0);
                }
            });
            return dh;
        }

        Assert.Equal(Once().Select(BitConverter.SingleToInt32Bits), Once().Select(BitConverter.SingleToInt32Bits));
    }

    [Theory]
    [InlineData(1000f, false)] // logits x 1000
    [InlineData(1f, true)] // a whole slice masked to -inf, and single -inf entries elsewhere
    public void ExtremeLogits_AgreeWithOneProcess(float scale, bool mask)
    {
        const int n = 20, v = 90, ranks = 3;
        var p = new Problem("extreme", n, v, 4, 5, LinearCrossEntropyOptions.Default, ignoreEvery: 0);
        var x = p.Logits.Select(z => z * scale).ToArray();
        var y = (int[])p.Targets.Clone();
        if (mask)
        {
            for (int t = 0; t < n; t++)
            {
                for (int c = 30; c < 60; c++)
                {
                    x[(t * v) + c] = float.NegativeInfinity; // all of rank 1's columns
                }

                x[(t * v) + 7] = float.NegativeInfinity;
                y[t] = y[t] is >= 30 and < 60 or 7 ? 0 : y[t];
            }
        }

        var expected = new float[x.Length];
        float loss = CrossEntropy.LossAndGradient(x, y, expected);
        Assert.True(float.IsFinite(loss));
        InProcessGroup.Run(ranks, c =>
        {
            var s = VocabularySlice.For(v, c);
            var shard = Agreement.Columns(x, n, v, s.Offset, s.Width);
            var g = new float[shard.Length];
            float l = VocabParallelCrossEntropy.LossAndGradient(c, shard, v, y, g);
            LinearReference.AssertClose(loss, l, 1e-6, "loss");
            var e = Agreement.Columns(expected, n, v, s.Offset, s.Width);
            for (int i = 0; i < g.Length; i++)
            {
                Assert.True(Math.Abs(g[i] - e[i]) <= 1e-5 * (Math.Abs(e[i]) + 1e-3), $"rank {c.Rank} gradient {i}: expected {e[i]}, got {g[i]}");
            }
        });
    }

    [Fact]
    public void NoRows_NaNMean_ZeroGradients()
    {
        InProcessGroup.Run(2, c =>
        {
            var s = VocabularySlice.For(7, c);
            Assert.True(float.IsNaN(VocabParallelCrossEntropy.Loss(c, [], 7, [])));
            var dw = Enumerable.Repeat(1f, s.Width * 3).ToArray();
            float loss = VocabParallelLinearCrossEntropy.LossAndGradients(c, [], new float[s.Width * 3], [], 7, [], new([], dw));
            Assert.True(float.IsNaN(loss));
            Assert.All(dw, w => Assert.Equal(0f, w));
        });
    }

    [Fact]
    public void BadShards_ThrowNamingTheArgument()
    {
        InProcessGroup.Run(2, c =>
        {
            // Wrong on every rank (slices of 6 and 5 classes): a rank with a right shard would wait for the others.
            var s = VocabularySlice.For(11, c);
            var e = Assert.Throws<ArgumentException>(() => VocabParallelCrossEntropy.Loss(c, new float[2 * 4], 11, [0, 1]));
            Assert.Equal("logitsShard", e.ParamName);
            Assert.Contains("has 8 values but this rank holds N x V_r = 2 x", e.Message, StringComparison.Ordinal);
            var w = Assert.Throws<ArgumentException>(() => VocabParallelLinearCrossEntropy.Loss(c, new float[2 * 3], new float[4 * 3], [], 11, [0, 1]));
            Assert.Equal("weightShard", w.ParamName);
            var none = Assert.Throws<ArgumentException>(() => VocabParallelCrossEntropy.Loss(c, new float[2 * 6], 11, [0, 1], new CrossEntropyOptions { Reduction = Reduction.None }));
            Assert.Equal("options", none.ParamName);
            var linearNone = Assert.Throws<ArgumentException>(() => VocabParallelLinearCrossEntropy.LossAndGradients(c, new float[2 * 3], new float[s.Width * 3], [], 11, [0, 1],
                new(new float[2 * 3], new float[s.Width * 3]), options: new CrossEntropyOptions { Reduction = Reduction.None }));
            Assert.Equal("options", linearNone.ParamName);
        });
    }

    [Fact]
    public void TargetsThatDifferBetweenRanks_ThrowOnEveryRank()
    {
        // Rank 0 holds classes [0, 5), rank 1 [5, 10). Both ranks holding "the" target (a loss of lse - z[2] - z[7]),
        // neither (lse - 0), one slice with two targets, and a row ignored on one rank only (NaN there, a number on the
        // other) were silently wrong; the same targets still agree with one process.
        var logits = Enumerable.Range(0, 2 * 10).Select(i => MathF.Sin(i)).ToArray();
        foreach (var (first, second) in new[] { (2, 7), (7, 2), (1, 2), (-100, 2) })
        {
            var messages = new string?[2];
            InProcessGroup.Run(2, c =>
            {
                var s = VocabularySlice.For(10, c);
                var shard = new float[2 * s.Width];
                for (int n = 0; n < 2; n++)
                {
                    logits.AsSpan((n * 10) + s.Offset, s.Width).CopyTo(shard.AsSpan(n * s.Width));
                }

                int[] targets = [3, c.Rank == 0 ? first : second];
                var e = Assert.Throws<ArgumentException>(() => VocabParallelCrossEntropy.Loss(c, shard, 10, targets));
                Assert.Equal("targets", e.ParamName);
                messages[c.Rank] = e.Message;
                var linear = Assert.Throws<ArgumentException>(() => VocabParallelLinearCrossEntropy.LossPerRow(c, new float[2 * 3], new float[s.Width * 3], [], 10, targets, new float[2]));
                Assert.Equal("targets", linear.ParamName);
                Assert.Equal(CrossEntropy.Loss(logits, [3, 2]), VocabParallelCrossEntropy.Loss(c, shard, 10, [3, 2]), 1e-6f);
            });
            Assert.All(messages, m => Assert.Contains("different targets for row 1", m, StringComparison.Ordinal));
        }
    }
}
