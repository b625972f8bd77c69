using System.Diagnostics;
using System.Globalization;
using Xent.Baselines;

namespace Xent.Benchmarks;

/// <summary>
/// Float <see cref="CrossEntropy.Loss(ReadOnlySpan{float}, ReadOnlySpan{int}, CrossEntropyOptions?)"/> against the
/// read of the same logits by the fastest few methods on the asked threads (<see cref="LimitReruns"/>: the fastest of
/// them in each round), alternating within each round in one process: how far the loss's arithmetic and its memory
/// traffic overlap. On one thread the times are the thread's CPU time, which the other programs of a shared machine
/// disturb far less than wall time; on more, wall time. Prints the median time of each and the median [20th-80th
/// percentile] of the per-round ratio Loss / read; compare with <c>kernel-compute</c>'s arithmetic alone (ns per
/// logit, block in L2) times the logits.
/// Run: dotnet bench/Xent.Benchmarks/bin/Release/net10.0/Xent.Benchmarks.dll loss-read [rounds] [threads] [NxV]
/// </summary>
internal static class LossRead
{
    public static void Run(string[] args)
    {
        int rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 21;
        int threads = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1;
        string shape = args.Length > 2 ? args[2] : "2048x50257";
        var (_, _, logits, targets) = RandomLogits.Create(shape);
        var destination = new float[logits.Length];
        var options = new CrossEntropyOptions { MaxDegreeOfParallelism = threads };
        var leaders = LimitReruns.Leaders(MemoryLimits.QuickRanked(logits, destination, [threads]).Reads);
        Action[] cases = [() => CrossEntropy.Loss(logits, targets, options), .. LimitReruns.Reads(leaders, logits)];
        TierUp.WarmCapped(cases, capSeconds: 1);
        var times = cases.Select(_ => new List<double>()).ToArray();
        for (int r = 0; r < rounds; r++)
        {
            for (int c = 0; c < cases.Length; c++)
            {
                // Each round starts with the next case, so that no case always follows the same one.
                int ci = (c + r) % cases.Length;
                cases[ci]();
                var one = new double[5];
                for (int i = 0; i < one.Length; i++)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    double cpu0 = CpuTime.ThreadMilliseconds();
                    cases[ci]();
                    one[i] = threads == 1 ? CpuTime.ThreadMilliseconds() - cpu0 : Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                }

                times[ci].Add(one.Order().ElementAt(2));
            }
        }

        var read = LimitReruns.PerRound(times[1..]);
        var ratios = times[0].Zip(read, (l, t) => l / t).Order().ToList();
        static double Median(IEnumerable<double> x) => x.Order().ElementAt(x.Count() / 2);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{shape}, width {Simd.Width}, {threads} thread(s), {rounds} rounds, {(threads == 1 ? "thread CPU" : "wall")} time: read (fastest per round of {LimitReruns.Describe(leaders)}) {Median(read):F2} ms, Loss {Median(times[0]):F2} ms; Loss / read {ratios[rounds / 2]:F2} [{ratios[rounds / 5]:F2}-{ratios[rounds - 1 - (rounds / 5)]:F2}]"));
    }
}
