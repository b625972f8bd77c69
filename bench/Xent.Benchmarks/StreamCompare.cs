using System.Diagnostics;
using System.Globalization;
using Xent.Baselines;
using Xent.Kernels;

namespace Xent.Benchmarks;

/// <summary>
/// Out-of-place float LossAndGradient with ordinary stores against streaming (non-temporal) stores for the gradient,
/// and the same call in place (the gradient over the logits: the copy's traffic), in one process, alternating call by
/// call, beside the copy limit of the same buffers (every copy method timed first, the fastest few again beside the
/// calls, the limit the fastest median of all: <see cref="LimitReruns.FastestCopyAndInPlace"/>, as `xent bench` takes
/// it; in place, the fastest way to read and write them, <see cref="CopyMethod.InPlace"/> among them): wall time on the
/// asked threads and, on one thread, the thread's CPU time (which the other programs of a shared machine disturb far
/// less). Each Xent call comes right after an untimed <see cref="PoolLead"/>, the limits after none.
/// XENT_VECTOR_WIDTH=256 runs the 256-bit paths.
/// Run: dotnet run -c Release --project bench/Xent.Benchmarks -- stream-compare [rounds] [threads] [NxV ...]
/// </summary>
internal static class StreamCompare
{
    public static void Run(string[] args)
    {
        int rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 9;
        int threads = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2;
        string[] shapes = args.Length > 2 ? args[2..] : ["256x50257", "2048x50257", "8192x32000"];
        Console.WriteLine($"width {Simd.Width}, {threads} thread(s), {rounds} rounds; ms per call, median (min-max); {(threads == 1 ? "thread CPU time" : "wall time")}");
        foreach (var shape in shapes)
        {
            var (rows, classes, logits, targets) = RandomLogits.Create(shape);
            var gradient = new float[logits.Length];
            var inPlace = logits.ToArray();
            var options = new CrossEntropyOptions { MaxDegreeOfParallelism = threads };
            // The fastest copy methods (of fewer threads too when timing wall time; CPU time counts one thread).
            var ranked = MemoryLimits.QuickRanked(logits, gradient, threads == 1 ? [1] : [1, threads]).Copies;
            (string Name, Action Call)[] cases =
            [
                ("ordinary", () =>
                {
                    using var scope = CrossEntropyKernel.OverrideStreamedBytes(long.MaxValue);
                    CrossEntropy.LossAndGradient(logits, targets, gradient, options);
                }),
                ("streamed", () =>
                {
                    using var scope = CrossEntropyKernel.OverrideStreamedBytes(0);
                    CrossEntropy.LossAndGradient(logits, targets, gradient, options);
                }),
                ("in place", () => CrossEntropy.LossAndGradient(inPlace, targets, inPlace, options)),
                ("Loss", () => CrossEntropy.Loss(logits, targets, options)),
                ("Loss, one row per item", () =>
                {
                    CrossEntropyKernel.GroupedRows = false;
                    CrossEntropy.Loss(logits, targets, options);
                    CrossEntropyKernel.GroupedRows = true;
                }),
                ("streamed, one row per item", () =>
                {
                    using var scope = CrossEntropyKernel.OverrideStreamedBytes(0);
                    CrossEntropyKernel.GroupedRows = false;
                    CrossEntropy.LossAndGradient(logits, targets, gradient, options);
                    CrossEntropyKernel.GroupedRows = true;
                }),
                ("in place, one row per item", () =>
                {
                    CrossEntropyKernel.GroupedRows = false;
                    CrossEntropy.LossAndGradient(inPlace, targets, inPlace, options);
                    CrossEntropyKernel.GroupedRows = true;
                }),
            ];

            // The in-place cases' logits put back before each of their calls (untimed), so that no call reads the gradient
            // the one before wrote.
            Action Reset(string name) => name.StartsWith("in place", StringComparison.Ordinal) ? () => logits.CopyTo(inPlace, 0) : () => { };
            var (times, copyLimit, inPlaceLimit, leaders, jitLine) = CopyLimitRounds.Run([.. cases.Select(c => (c.Call, Reset(c.Name)))], logits, gradient, ranked, threads, rounds);
            double Median(List<double> t) => t.Order().ElementAt(t.Count / 2);
            string Show(List<double> t) => $"{Median(t):F2} ({t.Min():F2}-{t.Max():F2})";
            // Out of place against the copies between two buffers, in place against every way to read and write.
            double limit = copyLimit.Timing.Median * 1e3, inPlaceMs = inPlaceLimit.Timing.Median * 1e3;
            Console.WriteLine($"{shape}: ordinary {Show(times[0])} = {Median(times[0]) / limit:F2}x the copy limit; streamed {Show(times[1])} = {Median(times[1]) / limit:F2}x; copy limit {CopyLimitRounds.Show(copyLimit)} (the fastest median of every method, {LimitReruns.Describe(leaders)} again beside the calls); streamed / ordinary {Median(times[1]) / Median(times[0]):F2}");
            Console.WriteLine($"{shape}: in place {Show(times[2])} = {Median(times[2]) / inPlaceMs:F2}x the in-place limit {CopyLimitRounds.Show(inPlaceLimit)}; in place / ordinary {Median(times[2]) / Median(times[0]):F2}");
            Console.WriteLine($"{shape}: Loss, grouped rows / one row per item {Median(times[3]) / Median(times[4]):F3} ({Show(times[3])} / {Show(times[4])})");
            Console.WriteLine($"{shape}: grouped rows (next-row prefetch) / one row per item: streamed {Median(times[1]) / Median(times[5]):F3}, in place {Median(times[2]) / Median(times[6]):F3}");
            Console.WriteLine($"{shape}: {jitLine}");
        }
    }
}
