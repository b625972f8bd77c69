using Xent.Reference;

namespace Xent.Tests.Core;

/// <summary>The row trace: its steps are consistent with each other and with the reference's losses and gradients.</summary>
public sealed class RowTraceTests
{
    public static TheoryData<float, float, float, bool> Options => new()
    {
        { 0f, 0f, 0f, false },
        { 0.1f, 0f, 0f, false },
        { 0f, 1e-3f, 0f, false },
        { 0f, 0f, 5f, false },
        { 0.2f, 1e-2f, 3f, true },
    };

    [Theory]
    [MemberData(nameof(Options))]
    public void StepsAgreeWithEachOtherAndWithTheReference(float smoothing, float zLoss, float softCap, bool weighted)
    {
        const int V = 37;
        var random = new Random(11);
        var logits = new float[V];
        var weights = new float[V];
        for (int c = 0; c < V; c++)
        {
            logits[c] = (8 * random.NextSingle()) - 4;
            weights[c] = 0.5f + random.NextSingle();
        }

        var o = new CrossEntropyOptions { LabelSmoothing = smoothing, ZLoss = zLoss, SoftCap = softCap, ClassWeights = weighted ? weights : default };
        var t = CrossEntropyRowTrace.Of(logits, 7, o);
        Assert.Equal(0.0, t.Shifted.Max());
        Assert.Equal(t.Exponentials.Sum(), t.SumExp, 12);
        Assert.Equal(t.Max + Math.Log(t.SumExp), t.LogSumExp, 14); // log s is log1p(s - 1): the same to rounding
        Assert.Equal(1.0, t.Probabilities.Sum(), 12);
        Assert.Equal(t.Loss, CrossEntropyReference.RowLosses(logits, [7], o)[0]);
        Assert.Equal(t.MeanLoss, CrossEntropyReference.Loss(logits, [7], o), 12);
        Assert.Equal(CrossEntropyReference.Gradient(logits, [7], o with { Reduction = Reduction.Sum }), t.Gradient);

        // Small logits: the naive formula is right, only less robust.
        Assert.Equal(t.Nll, (1 - (double)smoothing) * t.TargetWeight * t.NaiveLoss, 9);
    }

    [Fact]
    public void WithoutOptionsTheGradientIsSoftmaxMinusOneHot()
    {
        var t = CrossEntropyRowTrace.Of([2f, 1f, 0.1f], 1);
        Assert.Equal([t.Probabilities[0], t.Probabilities[1] - 1, t.Probabilities[2]], t.Gradient);
        Assert.Equal(-t.LogProbabilities[1], t.Loss);
    }

    [Fact]
    public void HugeLogits_KeepTheirLogSum()
    {
        // m + log s rounds to m in double at |m| = 1e30: log p must come from (z - m) - log s, or a row of equal
        // logits would give p = 1 everywhere and a loss of 0. The spec's answer is the uniform one, ln V and 1 / V.
        var row = Enumerable.Repeat(-1e30f, 1000).ToArray();
        Assert.Equal(Math.Log(1000), CrossEntropyRowTrace.Of(row, 0, new CrossEntropyOptions { LabelSmoothing = 0.1f }).Loss, 12);
        var t = CrossEntropyRowTrace.Of(row, 0);
        Assert.Equal(Math.Log(1000), t.Loss, 12);
        Assert.Equal((1.0 / 1000) - 1, t.Gradient[0], 12);
        Assert.Equal(1.0 / 1000, t.Gradient[1], 12);
        float third = 1f / 3;
        Assert.Equal(Math.Log(1000) * 3 * third, CrossEntropyReference.RowLosses(row, [.. Enumerable.Repeat(third, 3), .. new float[997]], 1000)[0], 12);
    }

    [Fact]
    public void ABadTargetOrOptionIsAnArgumentException()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => CrossEntropyRowTrace.Of([1f, 2f], 2));
        Assert.ThrowsAny<ArgumentException>(() => CrossEntropyRowTrace.Of([1f, 2f], 0, new CrossEntropyOptions { ClassWeights = new float[3] }));
        Assert.ThrowsAny<ArgumentException>(() => CrossEntropyRowTrace.Of([], 0));
    }
}
