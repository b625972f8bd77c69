namespace Xent.Tests.Core;

/// <summary>Every bad input of the spec throws the documented exception, and no destination is touched.</summary>
public class BadInputTests
{
    private const int Rows = 4;
    private const int V = 50;
    private const float Sentinel = 12345f;

    private static readonly float[] X = TestData.Logits(Rows, V, 1);
    private static readonly int[] Y = [1, 2, 3, 4];

    private static float[] Filled(int length) => Enumerable.Repeat(Sentinel, length).ToArray();

    /// <summary>Runs every entry point with the given input; each must throw TException and write nothing.</summary>
    private static void AllThrow<TException>(float[] x, int[] y, CrossEntropyOptions? o)
        where TException : ArgumentException
    {
        int rows = y.Length;
        var losses = Filled(rows);
        var lse = Filled(rows);
        var g = Filled(x.Length);
        var inPlace = (float[])x.Clone();
        Assert.ThrowsAny<TException>(() => CrossEntropy.Loss(x, y, o));
        Assert.ThrowsAny<TException>(() => CrossEntropy.LossPerRow(x, y, losses, o));
        Assert.ThrowsAny<TException>(() => CrossEntropy.LossPerRow(x, y, losses, lse, o));
        Assert.ThrowsAny<TException>(() => CrossEntropy.LossAndGradient(x, y, g, o));
        Assert.ThrowsAny<TException>(() => CrossEntropy.LossAndGradient(inPlace, y, inPlace, o));
        Assert.ThrowsAny<TException>(() => CrossEntropy.Gradient(x, y, new float[rows], g, o));
        var half = x.Select(v => (Half)v).ToArray();
        var halfGradient = Enumerable.Repeat((Half)Sentinel, x.Length).ToArray();
        Assert.ThrowsAny<TException>(() => CrossEntropy.LossAndGradient(half, y, halfGradient, o));
        Assert.All(losses, v => Assert.Equal(Sentinel, v));
        Assert.All(lse, v => Assert.Equal(Sentinel, v));
        Assert.All(g, v => Assert.Equal(Sentinel, v));
        Assert.All(halfGradient, v => Assert.Equal((Half)Sentinel, v));
        Assert.Equal(x, inPlace);
    }

    [Fact]
    public void TargetOutOfRange_InTheLastRow() =>
        AllThrow<ArgumentOutOfRangeException>(X, [1, 2, 3, V], null);

    [Fact]
    public void NegativeTargetThatIsNotTheIgnoreIndex()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => CrossEntropy.Loss(X, [1, -1, 3, 4]));
        Assert.Contains("row 1", e.Message, StringComparison.Ordinal);
        AllThrow<ArgumentOutOfRangeException>(X, [1, -1, 3, 4], null);
    }

    [Theory]
    [InlineData(-0.1f)]
    [InlineData(1.1f)]
    [InlineData(float.NaN)]
    public void LabelSmoothingOutsideZeroOne(float e) =>
        AllThrow<ArgumentOutOfRangeException>(X, Y, new CrossEntropyOptions { LabelSmoothing = e });

    [Theory]
    [InlineData(-1f)]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void BadZLossOrSoftCap(float value)
    {
        AllThrow<ArgumentOutOfRangeException>(X, Y, new CrossEntropyOptions { ZLoss = value });
        AllThrow<ArgumentOutOfRangeException>(X, Y, new CrossEntropyOptions { SoftCap = value });
    }

    [Fact]
    public void ClassWeightsOfWrongLength() =>
        AllThrow<ArgumentException>(X, Y, new CrossEntropyOptions { ClassWeights = new float[V - 1] });

    [Fact]
    public void LogitsNotAMultipleOfRows() =>
        AllThrow<ArgumentException>(X.AsSpan(1).ToArray(), Y, null);

    [Fact]
    public void ZeroMaxDegreeOfParallelism() =>
        AllThrow<ArgumentOutOfRangeException>(X, Y, new CrossEntropyOptions { MaxDegreeOfParallelism = 0 });

    [Fact]
    public void ReductionNone_PointsToLossPerRow()
    {
        var o = new CrossEntropyOptions { Reduction = Reduction.None };
        var e = Assert.Throws<ArgumentException>(() => CrossEntropy.Loss(X, Y, o));
        Assert.Contains("LossPerRow", e.Message, StringComparison.Ordinal);
        var g = Filled(X.Length);
        Assert.Throws<ArgumentException>(() => CrossEntropy.LossAndGradient(X, Y, g, o));
        Assert.All(g, v => Assert.Equal(Sentinel, v));
    }

    [Fact]
    public void DestinationsTooShort()
    {
        var lse = Filled(Rows);
        Assert.Throws<ArgumentException>(() => CrossEntropy.LossPerRow(X, Y, new float[Rows - 1]));
        Assert.Throws<ArgumentException>(() => CrossEntropy.LossPerRow(X, Y, new float[Rows], new float[Rows - 1]));
        var r = Filled(Rows);
        Assert.Throws<ArgumentException>(() => CrossEntropy.LossPerRow(X, Y, r, new float[Rows - 1]));
        Assert.All(r, v => Assert.Equal(Sentinel, v));
        Assert.Throws<ArgumentException>(() => CrossEntropy.LossAndGradient(X, Y, new float[X.Length - 1]));
        Assert.Throws<ArgumentException>(() => CrossEntropy.LossAndGradient(X, Y, new float[X.Length], 1f, new float[Rows - 1]));
    }

    [Fact]
    public void UpstreamOfWrongLength()
    {
        var g = Filled(X.Length);
        Assert.Throws<ArgumentException>(() => CrossEntropy.Gradient(X, Y, new float[Rows + 1], g));
        Assert.All(g, v => Assert.Equal(Sentinel, v));
    }

    [Fact]
    public void GradientPartlyOverlappingTheLogits()
    {
        var buffer = (float[])X.Clone();
        var copy = (float[])buffer.Clone();
        Assert.Throws<ArgumentException>(() => CrossEntropy.LossAndGradient(buffer.AsSpan(0, X.Length - V), Y[..^1], buffer.AsSpan(V)));
        Assert.Equal(copy, buffer);
    }

    [Fact]
    public void OutputsOverlappingAnInputOrEachOtherThrow()
    {
        // Each was accepted and gave wrong numbers: lse written over the logits of a later row (a loss 0.6 off),
        // losses over the probability targets (36 off), dL/dlse or the per-row upstream read from the gradient
        // being written (0.1 off).
        var logits = (float[])X.Clone();
        var losses = Filled(Rows);
        Assert.Throws<ArgumentException>(() => CrossEntropy.LossPerRow(logits, Y, losses, logits.AsSpan(V, Rows)));
        Assert.Throws<ArgumentException>(() => CrossEntropy.LossPerRow(logits, Y, logits.AsSpan(V, Rows)));
        Assert.Throws<ArgumentException>(() => CrossEntropy.LossPerRow(X, Y, losses, losses));
        Assert.Equal(X, logits);
        Assert.All(losses, v => Assert.Equal(Sentinel, v));

        var g = Filled(X.Length);
        var copy = (float[])g.Clone();
        Assert.Throws<ArgumentException>(() => CrossEntropy.LossAndGradient(X, Y, g, 1f, g.AsSpan(0, Rows)));
        Assert.Throws<ArgumentException>(() => CrossEntropy.LossAndGradient(X, Y, g, 1f, default, null, g.AsSpan(V, Rows)));
        Assert.Throws<ArgumentException>(() => CrossEntropy.Gradient(X, Y, g.AsSpan(V, Rows), g));
        Assert.Throws<ArgumentException>(() => CrossEntropy.Gradient(X, Y, new float[Rows], g, null, g.AsSpan(1, Rows)));
        Assert.Throws<ArgumentException>(() => CrossEntropy.LossAndGradient(X, Y, g, new CrossEntropyOptions { ClassWeights = g.AsMemory(0, V) }));
        Assert.Equal(copy, g);

        var t = Filled(X.Length);
        var tCopy = (float[])t.Clone();
        Assert.Throws<ArgumentException>(() => CrossEntropy.LossPerRow(X, t, V, t.AsSpan(V, Rows)));
        Assert.Throws<ArgumentException>(() => CrossEntropy.LossAndGradient(X, t, V, t));
        Assert.Equal(tCopy, t);
    }

    [Fact]
    public void ProbabilityTargetsOfWrongShape()
    {
        var g = Filled(X.Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => CrossEntropy.Loss(X, new float[X.Length], 0));
        Assert.Throws<ArgumentException>(() => CrossEntropy.Loss(X, new float[X.Length], V + 1));
        Assert.Throws<ArgumentException>(() => CrossEntropy.LossAndGradient(X, new float[X.Length - 1], V, g));
        Assert.Throws<ArgumentOutOfRangeException>(() => CrossEntropy.LossAndGradient(X, new float[X.Length], V, g, new CrossEntropyOptions { LabelSmoothing = 2 }));
        Assert.All(g, v => Assert.Equal(Sentinel, v));
    }

    [Fact]
    public void NoRowsButLogits() =>
        Assert.Throws<ArgumentException>(() => CrossEntropy.Loss(X, Array.Empty<int>()));

    [Fact]
    public void UndefinedReduction() =>
        AllThrow<ArgumentOutOfRangeException>(X, Y, new CrossEntropyOptions { Reduction = (Reduction)7 });

    [Fact]
    public void NoRows_WithClassWeights_IsTheEmptyResult()
    {
        // V is unknown without rows, so the weights cannot be of the wrong length: the empty batch's result, as
        // without weights (Mean over no row NaN, Sum 0).
        var o = new CrossEntropyOptions { ClassWeights = new float[] { 1, 2, 3, 4, 5 } };
        float[] none = [];
        Assert.True(float.IsNaN(CrossEntropy.Loss(none, [], o)));
        Assert.Equal(0f, CrossEntropy.Loss(none, [], o with { Reduction = Reduction.Sum }));
        Assert.True(float.IsNaN(CrossEntropy.LossAndGradient(none, [], none, o)));
    }
}
