using Xent.Tests.Training.HuggingFace;
using Xent.Training.Data;

namespace Xent.Tests.Training;

/// <summary>Sliding-window evaluation: every token scored once, with the context the stride leaves it.</summary>
public sealed class StridedEvaluationTests
{
    [Theory]
    [InlineData(16, 16, 50)]
    [InlineData(16, 5, 50)]
    [InlineData(16, 1, 20)]
    [InlineData(8, 3, 9)]
    [InlineData(16, 16, 2)]
    public void EachTokenIsScoredOnceWithTheContextItsWindowGives(int window, int stride, int n)
    {
        var model = TestHfCheckpoint.RandomModel(TestHfCheckpoint.Small, 2);
        int[] stream = [.. Enumerable.Range(0, n).Select(i => ((i * 53) + 7) % 97)];
        var (total, predicted) = StridedEvaluation.Loss(model, stream, window, stride);
        Assert.Equal(n - 1, predicted);

        // Token j (1 <= j < n) is predicted in the first window that reaches it: the one starting at the largest
        // multiple of the stride b with b + window >= j and the windows before it not reaching j.
        double expected = 0;
        int scored = 0;
        for (int begin = 0; scored < n - 1; begin += stride)
        {
            int end = Math.Min(begin + window, n - 1);
            for (int j = scored + 1; j <= end; j++)
            {
                int[] context = stream[begin..j];
                int[] targets = [.. Enumerable.Repeat(-100, context.Length - 1).Append(stream[j])];
                expected += model.Loss(context, targets, 1, context.Length);
            }

            scored = end;
        }

        Assert.Equal(expected, total, 1e-4 * n);
    }

    [Fact]
    public void BadWindowsAndStridesAreArgumentExceptions()
    {
        var model = TestHfCheckpoint.RandomModel(TestHfCheckpoint.Small, 2);
        int[] stream = [1, 2, 3, 4];
        Assert.Throws<ArgumentOutOfRangeException>(() => StridedEvaluation.Loss(model, stream, 17, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => StridedEvaluation.Loss(model, stream, 8, 9));
        Assert.Throws<ArgumentOutOfRangeException>(() => StridedEvaluation.Loss(model, stream, 8, 0));
        Assert.Throws<ArgumentException>(() => StridedEvaluation.Loss(model, [1], 8, 8));
    }
}
