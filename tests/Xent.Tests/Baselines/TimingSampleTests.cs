using Xent.Baselines;

namespace Xent.Tests.Baselines;

/// <summary>Cases shorter than the clock resolves are timed in batches of runs, never as zero seconds.</summary>
public sealed class TimingSampleTests
{
    [Fact]
    public void A_case_of_a_few_nanoseconds_is_timed_in_batches_and_never_as_zero()
    {
        int calls = 0;
        void Nothing() => calls++;
        for (int i = 0; i < 1000; i++)
        {
            Nothing(); // warm: a first call's compilation alone lasts longer than the shortest sample
        }

        Assert.True(Timing.RunsPerSample(Nothing, 20e-6) > 1);
        Assert.Equal(1, Timing.RunsPerSample(Nothing, 0));

        var t = Timing.Measure(Nothing, 5, 1, minSampleSeconds: 20e-6);
        Assert.Equal(5, t.Seconds.Length);
        Assert.All(t.Seconds, s => Assert.True(s > 0, $"{s} s"));

        // A run's time, not its batch's: the median, as one batch paused by the scheduler (10-200 ms on a loaded
        // machine) may come out above the bound.
        double median = t.Seconds.Order().ElementAt(2);
        Assert.True(median < 20e-6, $"median {median} s of {string.Join(", ", t.Seconds)}");

        var interleaved = Timing.Interleaved([Nothing, () => calls += 2], 3, 1, minSampleSeconds: 20e-6);
        Assert.All(interleaved, x => Assert.All(x.Seconds, s => Assert.True(s > 0, $"{s} s")));
    }

    [Fact]
    public void A_case_longer_than_the_shortest_sample_is_timed_alone()
    {
        static void Spin()
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (clock.Elapsed.TotalMicroseconds < 50)
            {
            }
        }

        Assert.Equal(1, Timing.RunsPerSample(Spin, 20e-6));
    }
}
