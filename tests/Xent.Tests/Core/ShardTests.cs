using System.Runtime.InteropServices;
using CsCheck;
using Xent.Reference;

namespace Xent.Tests.Core;

/// <summary>Sharded vocabulary: any split, merged in any grouping, equals the unsharded loss to float rounding.</summary>
public class ShardTests
{
    private static float[] Columns(float[] x, int rows, int v, int from, int to)
    {
        var shard = new float[rows * (to - from)];
        for (int n = 0; n < rows; n++)
        {
            Array.Copy(x, (n * v) + from, shard, n * (to - from), to - from);
        }

        return shard;
    }

    private static CrossEntropyShardState[] Sharded(float[] x, int[] y, int v, int[] cuts, CrossEntropyOptions o, bool mergeFromTheRight)
    {
        int rows = y.Length;
        var shards = new List<CrossEntropyShardState[]>();
        for (int k = 0; k + 1 < cuts.Length; k++)
        {
            var states = new CrossEntropyShardState[rows];
            CrossEntropyShards.Compute(Columns(x, rows, v, cuts[k], cuts[k + 1]), cuts[k], v, y, states, o);
            shards.Add(states);
        }

        if (mergeFromTheRight)
        {
            shards.Reverse();
        }

        var merged = Enumerable.Repeat(CrossEntropyShardState.Empty, rows).ToArray();
        foreach (var s in shards)
        {
            CrossEntropyShards.Merge(s, merged);
        }

        return merged;
    }

    // Cuts may repeat: empty shards are part of "any split".
    private static int[] RandomCuts(int v, int pieces, int seed)
    {
        var random = new Random(seed);
        return [.. new[] { 0, v }.Concat(Enumerable.Range(0, pieces).Select(_ => random.Next(v + 1))).Order()];
    }

    private static CrossEntropyOptions[] OptionSets(int v, int seed) =>
    [
        new(),
        new() { LabelSmoothing = 0.1f, ClassWeights = TestData.Weights(v, seed), ZLoss = 1e-3f },
        new() { SoftCap = 4f, LabelSmoothing = 0.2f, Reduction = Reduction.Sum },
        new() { SoftCap = 3f, ZLoss = 1e-2f, ClassWeights = TestData.Weights(v, seed + 1), Reduction = Reduction.None },
    ];

    [Fact]
    public void AnySplitEqualsTheUnshardedLoss()
    {
        var inputs = Gen.Select(Gen.Int[1, 4], Gen.Int[1, 9000], Gen.Int[0, 6], Gen.Int[0, 1000], Gen.Bool);
        inputs.Sample(t =>
        {
            var (rows, v, pieces, seed, right) = t;
            var cuts = RandomCuts(v, pieces, seed);
            var x = TestData.Logits(rows, v, seed, scale: 5f);
            var y = TestData.Targets(rows, v, seed, ignoreEvery: 3);
            var sets = OptionSets(v, seed);
            var o = sets[seed % (sets.Length - 1)]; // not the last: Reduction.None has no single loss
            var merged = Sharded(x, y, v, cuts, o, right);
            Close.Scalar(CrossEntropy.Loss(x, y, o), CrossEntropyShards.Loss(merged, y, v, o), what: $"cuts {string.Join(",", cuts)}");
            Close.Scalar(CrossEntropyReference.Loss(x, y, o), CrossEntropyShards.Loss(merged, y, v, o), what: "reference");
            var r = new float[rows];
            CrossEntropyShards.LossPerRow(merged, y, v, r, o);
            Close.Vector(CrossEntropyReference.RowLosses(x, y, o), r, what: "rows");
        });
    }

    [Fact]
    public void ARowMaskedWithMinusTenToThe30_IsUniform()
    {
        // lse = m + log s rounds to m in double at |m| = 1e30: the shards' loss keeps log s as the kernels do.
        const int v = 100;
        var x = Enumerable.Repeat(-1e30f, v).ToArray();
        var merged = Sharded(x, [70], v, [0, 40, 100], CrossEntropyOptions.Default, false);
        Close.Scalar(Math.Log(v), CrossEntropyShards.Loss(merged, [70], v), what: "loss");
        Close.Scalar(CrossEntropyReference.Loss(x, [70]), CrossEntropyShards.Loss(merged, [70], v), what: "reference");
    }

    [Fact]
    public void AShardOfOnlyNegativeInfinityAddsNothing()
    {
        const int v = 100;
        var x = TestData.Logits(1, v, 3);
        for (int c = 0; c < 40; c++)
        {
            x[c] = float.NegativeInfinity;
        }

        var merged = Sharded(x, [70], v, [0, 40, 40, 100], CrossEntropyOptions.Default, false);
        Close.Scalar(CrossEntropyReference.Loss(x, [70]), CrossEntropyShards.Loss(merged, [70], v));
        Assert.Equal(CrossEntropyShardState.Empty, CrossEntropyShardState.Merge(CrossEntropyShardState.Empty, CrossEntropyShardState.Empty));
    }

    [Fact]
    public void MergeIsAssociative()
    {
        const int v = 3000;
        var x = TestData.Logits(2, v, 4, scale: 8f);
        int[] y = [5, 2900];
        var parts = new[] { (0, 1000), (1000, 2000), (2000, 3000) }.Select(p =>
        {
            var s = new CrossEntropyShardState[2];
            CrossEntropyShards.Compute(Columns(x, 2, v, p.Item1, p.Item2), p.Item1, v, y, s);
            return s;
        }).ToArray();
        for (int n = 0; n < 2; n++)
        {
            var left = CrossEntropyShardState.Merge(CrossEntropyShardState.Merge(parts[0][n], parts[1][n]), parts[2][n]);
            var right = CrossEntropyShardState.Merge(parts[0][n], CrossEntropyShardState.Merge(parts[1][n], parts[2][n]));
            Close.Scalar(left.LogSumExp, right.LogSumExp, relative: 1e-12, absolute: 0);
            Assert.Equal(left.Max, right.Max);
            Assert.Equal(left.TargetLogit, right.TargetLogit);
        }
    }

    [Fact]
    public void AnySplit_ShardGradientsAreTheUnshardedGradient()
    {
        var inputs = Gen.Select(Gen.Int[1, 4], Gen.Int[1, 9000], Gen.Int[0, 5], Gen.Int[0, 1000], Gen.Bool);
        inputs.Sample(t =>
        {
            var (rows, v, pieces, seed, inPlace) = t;
            var cuts = RandomCuts(v, pieces, seed);
            var x = TestData.Logits(rows, v, seed, scale: 5f);
            var y = TestData.Targets(rows, v, seed, ignoreEvery: 3);
            var sets = OptionSets(v, seed);
            var o = sets[seed % sets.Length];
            var merged = Sharded(x, y, v, cuts, o, false);
            var upstream = Enumerable.Range(0, rows).Select(n => 0.5f + n).ToArray();
            var gradient = new float[rows * v];
            for (int k = 0; k + 1 < cuts.Length; k++)
            {
                var shard = Columns(x, rows, v, cuts[k], cuts[k + 1]);
                var g = inPlace ? shard : new float[shard.Length];
                if (o.Reduction == Reduction.None)
                {
                    CrossEntropyShards.Gradient(shard, cuts[k], v, y, merged, upstream, g, o);
                }
                else
                {
                    CrossEntropyShards.Gradient(shard, cuts[k], v, y, merged, g, upstream: 2f, options: o);
                }

                int width = cuts[k + 1] - cuts[k];
                for (int n = 0; n < rows; n++)
                {
                    Array.Copy(g, n * width, gradient, (n * v) + cuts[k], width);
                }
            }

            double[] expected = o.Reduction == Reduction.None
                ? CrossEntropyReference.Gradient(x, y, upstream.Select(u => (double)u).ToArray(), o)
                : CrossEntropyReference.Gradient(x, y, o, upstream: 2);
            // Under label smoothing a column's entry is K p[c] - C1 w[c], a difference of float terms that may nearly
            // cancel (V = 2, a peaked row: -0.0036 from terms near 0.05 missed 1e-5 by 1.4x): 1e-4 there, as the
            // options tests allow for the same formula.
            Close.Gradient(expected, gradient, v, relative: o.LabelSmoothing > 0 ? 1e-4 : 1e-5, what: $"cuts {string.Join(",", cuts)} {(inPlace ? "in place" : "")}");
        });
    }

    [Fact]
    public void ShardGradient_BadInputThrows()
    {
        const int v = 100;
        var x = TestData.Logits(2, v, 1);
        int[] y = [1, 50];
        var merged = Sharded(x, y, v, [0, 40, 100], CrossEntropyOptions.Default, false);
        var shard = Columns(x, 2, v, 0, 40);
        var g = new float[shard.Length];
        Assert.Throws<ArgumentException>(() => CrossEntropyShards.Gradient(shard, 0, v, y, merged, g, options: new CrossEntropyOptions { Reduction = Reduction.None }));
        Assert.Throws<ArgumentException>(() => CrossEntropyShards.Gradient(shard, 0, v, y, merged, [1f], g));
        Assert.Throws<ArgumentException>(() => CrossEntropyShards.Gradient(shard, 0, v, y, merged, new float[shard.Length - 1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => CrossEntropyShards.Gradient(shard, 70, v, y, merged, g));
        var unmerged = new CrossEntropyShardState[2];
        CrossEntropyShards.Compute(shard, 0, v, y, unmerged);
        var e = Assert.Throws<ArgumentException>(() => CrossEntropyShards.Gradient(shard, 0, v, y, unmerged, g));
        Assert.Contains("row 1", e.Message, StringComparison.Ordinal);
        Assert.All(g, value => Assert.Equal(0f, value)); // nothing written
    }

    [Fact]
    public void BadShardsThrow()
    {
        var states = new CrossEntropyShardState[2];
        Assert.Throws<ArgumentOutOfRangeException>(() => CrossEntropyShards.Compute(new float[20], 95, 100, [1, 2], states));
        Assert.Throws<ArgumentException>(() => CrossEntropyShards.Compute(new float[21], 0, 100, [1, 2], states));
        Assert.Throws<ArgumentOutOfRangeException>(() => CrossEntropyShards.Compute(new float[20], 0, 100, [1, 100], states));
        Assert.All(states, s => Assert.Equal(default, s));
        CrossEntropyShards.Compute(new float[20], 0, 100, [1, 50], states);
        var e = Assert.Throws<ArgumentException>(() => CrossEntropyShards.Loss(states, [1, 50], 100)); // row 1's target is elsewhere
        Assert.Contains("row 1", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ShardGradientPartlyOverlappingItsLogitsThrows()
    {
        // One element off the shard's logits: the write ran ahead of the reads and gave wrong numbers (0.03 off).
        const int v = 40;
        var x = TestData.Logits(4, v, 3);
        int[] y = [1, 2, 3, 4];
        var states = new CrossEntropyShardState[4];
        CrossEntropyShards.Compute(x, 0, v, y, states);
        foreach (int shift in new[] { 1, -1 })
        {
            var buffer = new float[x.Length + 1];
            int from = shift > 0 ? 0 : 1;
            x.CopyTo(buffer, from);
            var copy = (float[])buffer.Clone();
            Assert.Throws<ArgumentException>(() => CrossEntropyShards.Gradient(buffer.AsSpan(from, x.Length), 0, v, y, states, buffer.AsSpan(from + shift, x.Length)));
            Assert.Throws<ArgumentException>(() => CrossEntropyShards.Gradient(buffer.AsSpan(from, x.Length), 0, v, y, states, new float[] { 1, 1, 1, 1 }, buffer.AsSpan(from + shift, x.Length)));
            Assert.Equal(copy, buffer);
        }
    }

    [Fact]
    public void ShardOutputsOverlappingAnInputThrow()
    {
        // The gradient written row by row over the targets or merged states of later rows: they were read after being
        // overwritten, silently (wrong rows, or a garbage target), though the docs say the destination must not
        // overlap any input. Refused before anything is written, as CrossEntropy refuses a gradient over its targets.
        const int rows = 4, v = 40;
        var x = TestData.Logits(rows, v, 5);
        int[] y = [1, 2, 3, 4];
        var merged = new CrossEntropyShardState[rows];
        CrossEntropyShards.Compute(x, 0, v, y, merged);

        var buffer = new float[rows * v];
        var states = MemoryMarshal.Cast<float, CrossEntropyShardState>(buffer.AsSpan(2 * v));
        merged.CopyTo(states);
        var copy = (float[])buffer.Clone();
        Assert.Equal("gradientShard", Assert.Throws<ArgumentException>(() => CrossEntropyShards.Gradient(x, 0, v, y, MemoryMarshal.Cast<float, CrossEntropyShardState>(buffer.AsSpan(2 * v))[..rows], buffer)).ParamName);
        Assert.Equal("gradientShard", Assert.Throws<ArgumentException>(() => CrossEntropyShards.Gradient(x, 0, v, y, MemoryMarshal.Cast<float, CrossEntropyShardState>(buffer.AsSpan(2 * v))[..rows], [1f, 1f, 1f, 1f], buffer)).ParamName);
        Assert.Equal(copy, buffer);

        Array.Clear(buffer);
        y.CopyTo(MemoryMarshal.Cast<float, int>(buffer.AsSpan(v + 3)));
        copy = (float[])buffer.Clone();
        Assert.Equal("gradientShard", Assert.Throws<ArgumentException>(() => CrossEntropyShards.Gradient(x, 0, v, MemoryMarshal.Cast<float, int>(buffer.AsSpan(v + 3))[..rows], merged, buffer)).ParamName);
        Assert.Equal(copy, buffer);

        // The states Compute writes over the shard's logits of later rows: the same.
        var logits = (float[])x.Clone();
        Assert.Equal("states", Assert.Throws<ArgumentException>(() => CrossEntropyShards.Compute(logits, 0, v, y, MemoryMarshal.Cast<float, CrossEntropyShardState>(logits.AsSpan(v))[..rows])).ParamName);
        Assert.Equal(x, logits);
    }

    [Fact]
    public void NoTargetsWithAShardOfLogitsThrows()
    {
        // N = 0 with logits (targets of the wrong length) was taken as no rows: Compute did nothing and Gradient left
        // its destination as it was, where CrossEntropy throws for the same lengths.
        var x = TestData.Logits(2, 10, 1);
        var g = new float[x.Length];
        Array.Fill(g, 7f);
        Assert.Equal("logitsShard", Assert.Throws<ArgumentException>(() => CrossEntropyShards.Compute(x, 0, 10, [], [])).ParamName);
        Assert.Equal("logitsShard", Assert.Throws<ArgumentException>(() => CrossEntropyShards.Gradient(x, 0, 10, [], [], g)).ParamName);
        Assert.Equal("logitsShard", Assert.Throws<ArgumentException>(() => CrossEntropyShards.Gradient(x, 0, 10, [], [], [], g)).ParamName);
        Assert.All(g, v => Assert.Equal(7f, v));
        CrossEntropyShards.Compute([], 0, 10, [], []);
        CrossEntropyShards.Gradient([], 0, 10, [], [], []);
    }
}
