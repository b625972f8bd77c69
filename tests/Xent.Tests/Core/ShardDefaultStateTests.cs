namespace Xent.Tests.Core;

/// <summary>
/// default(CrossEntropyShardState), which every entry of a fresh array holds, is the empty state: an accumulator
/// allocated and merged into straight away gives the loss of one filled with Empty, bit for bit. It was a state with
/// max 0, which rescaled every shard's sum against 0: rows of logits below about -745 then had a loss of -inf or NaN.
/// </summary>
public class ShardDefaultStateTests
{
    private const int Rows = 4, Classes = 10, Cut = 6;

    [Fact]
    public void Default_IsEmpty()
    {
        var state = default(CrossEntropyShardState);
        Assert.Equal(CrossEntropyShardState.Empty, state);
        Assert.Equal(float.NegativeInfinity, state.Max);
        Assert.Equal(0.0, state.SumExp);
        Assert.False(state.HasTarget);
        Assert.Equal(CrossEntropyShardState.Empty, CrossEntropyShardState.Empty with { Max = float.NegativeInfinity });
        Assert.NotEqual(CrossEntropyShardState.Empty, CrossEntropyShardState.Empty with { Max = 0f });
    }

    [Theory]
    [InlineData(-1000f)] // every exponential underflowed against the default's max 0: NaN
    [InlineData(-3f)] // rescaled against 0 instead of the shards' max
    [InlineData(2f)] // above 0: the default's max never counted
    public void AFreshAccumulator_GivesTheLossOfOneFilledWithEmpty(float offset)
    {
        var random = new Random(7);
        float[] logits = [.. Enumerable.Range(0, Rows * Classes).Select(_ => offset + (float)random.NextDouble())];
        int[] targets = [1, 7, -100, 9];
        var options = new CrossEntropyOptions { ZLoss = 1e-4f, LabelSmoothing = 0.1f };

        var fresh = new CrossEntropyShardState[Rows];
        var filled = Enumerable.Repeat(CrossEntropyShardState.Empty, Rows).ToArray();
        foreach (var (from, to) in new[] { (0, Cut), (Cut, Classes) })
        {
            var shard = new CrossEntropyShardState[Rows];
            CrossEntropyShards.Compute(Columns(logits, from, to), from, Classes, targets, shard, options);
            CrossEntropyShards.Merge(shard, fresh);
            CrossEntropyShards.Merge(shard, filled);
        }

        float loss = CrossEntropyShards.Loss(fresh, targets, Classes, options);
        Assert.Equal(CrossEntropyShards.Loss(filled, targets, Classes, options), loss);
        Assert.Equal(CrossEntropy.Loss(logits, targets, options), loss, 1e-4f * Math.Abs(offset));
    }

    [Fact]
    public void AFreshArrayNeverMergedInto_Throws()
    {
        var fresh = new CrossEntropyShardState[Rows];
        var e = Assert.Throws<ArgumentException>(() => CrossEntropyShards.Loss(fresh, [1, 7, -100, 9], Classes));
        Assert.Contains("merge the states of every shard", e.Message, StringComparison.Ordinal);
    }

    private static float[] Columns(float[] x, int from, int to)
    {
        var shard = new float[Rows * (to - from)];
        for (int n = 0; n < Rows; n++)
        {
            Array.Copy(x, (n * Classes) + from, shard, n * (to - from), to - from);
        }

        return shard;
    }
}
