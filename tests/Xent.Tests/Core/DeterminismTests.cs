namespace Xent.Tests.Core;

/// <summary>
/// Bitwise identical results for any thread count: rows split across threads (few long rows) or dealt out whole
/// must fold the same blocks in the same order.
/// </summary>
public class DeterminismTests
{
    [Theory]
    [InlineData(1, 262144, false)]
    [InlineData(1, 262144, true)]
    [InlineData(3, 40000, false)]
    [InlineData(3, 40000, true)]
    [InlineData(64, 5000, false)]
    [InlineData(5, 16385, true)]
    [InlineData(2048, 10, false)]
    [InlineData(1500, 32, true)]
    public void SameBitsForEveryThreadCount(int rows, int v, bool smoothing)
    {
        var x = TestData.Logits(rows, v, rows + v);
        var y = TestData.Targets(rows, v, rows + v);
        // Without smoothing the gradient takes the stored-exponentials path; with it, the two-exp path.
        var options = new CrossEntropyOptions { LabelSmoothing = smoothing ? 0.1f : 0f, ZLoss = 1e-4f };
        float[]? firstGradient = null, firstRows = null;
        float firstLoss = 0;
        foreach (int threads in new[] { 1, 2, 7, -1 })
        {
            var o = options with { MaxDegreeOfParallelism = threads };
            var g = new float[x.Length];
            float loss = CrossEntropy.LossAndGradient(x, y, g, o);
            var r = new float[rows];
            CrossEntropy.LossPerRow(x, y, r, o);
            Assert.Equal(loss, CrossEntropy.Loss(x, y, o));
            if (firstGradient == null)
            {
                (firstGradient, firstRows, firstLoss) = (g, r, loss);
                continue;
            }

            Assert.Equal(BitConverter.SingleToInt32Bits(firstLoss), BitConverter.SingleToInt32Bits(loss));
            Assert.Equal(firstRows, r);
            Assert.True(firstGradient.AsSpan().SequenceEqual(g), $"gradient differs with {threads} threads");
        }
    }

    [Theory]
    [InlineData(10)]
    [InlineData(32)]
    [InlineData(1000)]
    public void ShortRows_AreDealtInItemsOfFewHundredRows_SoThreadsShareThem(int classes)
    {
        // Each row costs about as much again as 256 elements (its statistics call, its log in double): counted by
        // elements alone, 2048 rows of 32 classes made one item, which one thread ran alone.
        int perItem = Xent.Kernels.CrossEntropyKernel.RowsPerItem(classes);
        Assert.InRange(perItem, 1, 256);
        Assert.InRange((long)perItem * (classes + 256), 1 << 15, 1 << 16);
    }
}
