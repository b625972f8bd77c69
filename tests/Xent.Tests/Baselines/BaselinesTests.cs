using Xent.Baselines;

namespace Xent.Tests.Baselines;

/// <summary>The baselines of the benchmarks compute what they claim: a benchmark against a wrong baseline is worthless.</summary>
public sealed class BaselinesTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void ScalarCrossEntropy_MatchesTheLibrary_ForAnyThreadCount(int threads)
    {
        const int n = 5, v = 300;
        var rng = new Random(3);
        var logits = Enumerable.Range(0, n * v).Select(_ => (rng.NextSingle() * 10) - 5).ToArray();
        var targets = Enumerable.Range(0, n).Select(_ => rng.Next(v)).ToArray();
        var g = new float[n * v];
        var expected = new float[n * v];
        float loss = ScalarCrossEntropy.LossAndGradient(logits, targets, g, threads);
        float reference = CrossEntropy.LossAndGradient(logits, targets, expected);
        Assert.Equal(reference, loss, 1e-5f);
        Assert.Equal(reference, ScalarCrossEntropy.Loss(logits, targets, threads), 1e-5f);
        for (int i = 0; i < g.Length; i++)
        {
            Assert.Equal(expected[i], g[i], 1e-6f);
        }

        Assert.Equal(loss, ScalarCrossEntropy.Loss(logits, targets, 1)); // rows summed in order: no thread-count drift
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void MemoryLimits_ReadAndCopyEveryFloat_ByEveryMethod(int threads)
    {
        // Odd length, and a copy whose parts start unaligned: the streaming copy's aligned middle and both ends.
        var source = Enumerable.Range(0, 10_007).Select(i => (float)(i % 13)).ToArray();
        float expected = source.Sum();
        foreach (var method in Enum.GetValues<ReadMethod>())
        {
            Assert.Equal(expected, MemoryLimits.Read(source, threads, method));
        }

        foreach (var method in Enum.GetValues<CopyMethod>())
        {
            var destination = new float[source.Length + 1];
            MemoryLimits.Copy(source, destination, threads, method);
            Assert.Equal(source, destination.AsSpan(0, source.Length).ToArray());
            Assert.Equal(0f, destination[^1]);
        }
    }

    [Fact]
    public void MemoryLimits_Best_KeepsTheFastestOfEveryMethodAndThreadCount()
    {
        var source = MemoryLimits.Touched(4096);
        var destination = MemoryLimits.Touched(4096);
        int call = 0;
        // A fake timer: every measurement gets its own time; the seventh (a read on 2 threads) and the fourth (a copy
        // on 1 thread) are the fastest.
        var (read, copy) = MemoryLimits.Best(source, destination, [1, 2, 1], a =>
        {
            a();
            call++;
            return new Timing([call is 7 or 4 ? 0.001 : 1.0 + call]);
        });
        Assert.Equal(10, call); // 2 thread counts x (3 read + 2 copy methods)
        Assert.Equal(2, read.Threads);
        Assert.Equal(0.001, read.Timing.Median);
        Assert.Equal(4096 * 4L, read.Bytes);
        Assert.Equal(2 * 4096 * 4L, copy.Bytes);
        Assert.Equal(1, copy.Threads);
        Assert.Equal(0.001, copy.Timing.Median);
    }

    [Fact]
    public void Timing_TimesAsManyRunsAsAsked_AfterWarmingUp()
    {
        int runs = 0;
        var t = Timing.Measure(() => runs++, 4, 10);
        Assert.Equal(4, t.Seconds.Length);
        Assert.True(runs >= 4 + 3, $"{runs} runs: at least 3 warm-up runs come first");
        Assert.InRange(t.Median, t.Min, t.Max);
    }
}
