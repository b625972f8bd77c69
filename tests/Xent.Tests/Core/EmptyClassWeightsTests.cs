namespace Xent.Tests.Core;

/// <summary>
/// ClassWeights empty means every weight is 1 however it is empty: default, or a zero-length array
/// (<c>Array.Empty</c>, <c>[]</c>) or slice, which pins to a pointer that is not null. The kernels must not read
/// weights through that pointer (past the end of the array: the probability targets' loss came out 0).
/// </summary>
public class EmptyClassWeightsTests
{
    private const int Rows = 5;
    private const int V = 37;

    public static TheoryData<string> Empties() => new("Array.Empty", "slice");

    private static ReadOnlyMemory<float> Empty(string kind) =>
        kind == "slice" ? new ReadOnlyMemory<float>(TestData.Weights(V, 3), 4, 0) : Array.Empty<float>();

    [Theory]
    [MemberData(nameof(Empties))]
    public void ClassIndexTargets_SameBitsAsNoWeights(string kind)
    {
        var x = TestData.Logits(Rows, V, 5);
        var y = TestData.Targets(Rows, V, 5, ignoreEvery: 3);
        foreach (var smoothing in new[] { 0f, 0.2f })
        {
            var none = new CrossEntropyOptions { LabelSmoothing = smoothing };
            var empty = none with { ClassWeights = Empty(kind) };
            var (expected, expectedRows, expectedGradient) = ClassIndex(x, y, none);
            var (loss, rows, gradient) = ClassIndex(x, y, empty);
            Assert.Equal(expected, loss);
            Assert.Equal(expectedRows, rows);
            Assert.Equal(expectedGradient, gradient);
        }
    }

    [Theory]
    [MemberData(nameof(Empties))]
    public void ProbabilityTargets_SameBitsAsNoWeights(string kind)
    {
        var x = TestData.Logits(Rows, V, 6);
        var t = TestData.Probabilities(Rows, V, 6);
        foreach (var smoothing in new[] { 0f, 0.2f })
        {
            var none = new CrossEntropyOptions { LabelSmoothing = smoothing };
            var empty = none with { ClassWeights = Empty(kind) };
            var (expected, expectedRows, expectedGradient) = Probability(x, t, none);
            var (loss, rows, gradient) = Probability(x, t, empty);
            Assert.True(expected > 1f, $"the loss without weights is {expected}");
            Assert.Equal(expected, loss);
            Assert.Equal(expectedRows, rows);
            Assert.Equal(expectedGradient, gradient);
        }
    }

    private static (float Loss, float[] Rows, float[] Gradient) ClassIndex(float[] x, int[] y, CrossEntropyOptions o)
    {
        var rows = new float[Rows];
        var gradient = new float[x.Length];
        CrossEntropy.LossPerRow(x, y, rows, o);
        float loss = CrossEntropy.LossAndGradient(x, y, gradient, o);
        return (loss, rows, gradient);
    }

    private static (float Loss, float[] Rows, float[] Gradient) Probability(float[] x, float[] t, CrossEntropyOptions o)
    {
        var rows = new float[Rows];
        var gradient = new float[x.Length];
        CrossEntropy.LossPerRow(x, t, V, rows, o);
        float loss = CrossEntropy.LossAndGradient(x, t, V, gradient, o);
        return (loss, rows, gradient);
    }
}
