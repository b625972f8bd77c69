using Xent.Training.Sampling;

namespace Xent.Tests.Training;

/// <summary>Top-k's threshold found with a heap is the K-th element of a descending sort.</summary>
public class TopKTests
{
    [Fact]
    public void Cutoff_IsTheKthLargest_AsASortGivesIt_WithTiesAndInfinities()
    {
        var random = new Random(5);
        foreach (int v in new[] { 1, 2, 3, 7, 64, 1000, 50257 })
        {
            // Continuous values, a few distinct ones (many ties), and some -inf (a masked vocabulary).
            foreach (int kind in new[] { 0, 1, 2 })
            {
                float[] values = [.. Enumerable.Range(0, v).Select(_ => kind switch
                {
                    0 => (random.NextSingle() * 20) - 10,
                    1 => random.Next(4) - 1.5f,
                    _ => random.Next(3) == 0 ? float.NegativeInfinity : random.Next(5),
                })];
                float[] sorted = [.. values.OrderByDescending(x => x)];
                foreach (int k in new[] { 1, 2, 3, 50, v / 2, v - 1, v }.Where(k => k >= 1 && k <= v).Distinct())
                {
                    Assert.Equal(sorted[k - 1], TopK.Cutoff(values, k));
                }
            }
        }
    }
}
