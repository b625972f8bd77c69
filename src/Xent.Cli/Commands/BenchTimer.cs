using System.Diagnostics;

namespace Xent.Cli.Commands;

/// <summary>Wall-clock timings of one case: warm-up runs first, then up to K timed runs (fewer if a time cap is reached).</summary>
internal sealed record BenchTiming(double[] Seconds)
{
    public double Median => Quantile(0.5);

    public double Min => Seconds.Min();

    public double Max => Seconds.Max();

    public static BenchTiming Measure(Action action, int warmup, int iterations, double capSeconds)
    {
        for (int i = 0; i < warmup; i++)
        {
            action();
        }

        var times = new List<double>(iterations);
        var total = Stopwatch.StartNew();
        for (int i = 0; i < iterations; i++)
        {
            var clock = Stopwatch.StartNew();
            action();
            times.Add(clock.Elapsed.TotalSeconds);

            // Slow cases (the scalar baseline on big shapes) stop early, but never below 3 runs.
            if (times.Count >= 3 && total.Elapsed.TotalSeconds > capSeconds)
            {
                break;
            }
        }

        return new BenchTiming([.. times]);
    }

    private double Quantile(double q)
    {
        var s = Seconds.Order().ToArray();
        double pos = q * (s.Length - 1);
        int lo = (int)Math.Floor(pos), hi = (int)Math.Ceiling(pos);
        return s[lo] + (s[hi] - s[lo]) * (pos - lo);
    }
}
