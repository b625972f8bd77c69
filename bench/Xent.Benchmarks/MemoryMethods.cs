using System.Diagnostics;
using System.Globalization;
using Xent.Baselines;
using Xent.Kernels;

namespace Xent.Benchmarks;

/// <summary>
/// Every read and copy method of <see cref="MemoryLimits"/> on one and on the asked threads, side by side with the
/// kernels they bound (Loss for reads, out-of-place LossAndGradient for copies) on the same buffers, call after call
/// in each round: which method is fastest on this machine, and whether the best stays above the kernels. Wall time,
/// GB/s at the median; kernel / method below 1 means the method is faster than the kernel (as a limit must be).
/// Run: dotnet run -c Release --project bench/Xent.Benchmarks -- memory-methods [rounds] [threads] [NxV ...]
/// </summary>
internal static class MemoryMethods
{
    public static void Run(string[] args)
    {
        int rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 9;
        int threads = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2;
        string[] shapes = args.Length > 2 ? args[2..] : ["2048x50257"];
        Console.WriteLine($"width {Simd.Width}, {threads} thread(s), {rounds} rounds; wall ms per call, median (min-max)");
        foreach (var shape in shapes)
        {
            var (_, _, logits, targets) = RandomLogits.Create(shape);
            var gradient = MemoryLimits.Touched(logits.Length);
            var options = new CrossEntropyOptions { MaxDegreeOfParallelism = threads };
            var counts = new[] { 1, threads }.Distinct().ToArray();
            var reads = new List<(string Name, Action Call)> { ("Loss (kernel)", () => CrossEntropy.Loss(logits, targets, options)) };
            var inPlace = logits.ToArray(); // its values turn into gradients call by call: the same work for the kernel
            var copies = new List<(string Name, Action Call)>
            {
                ("LossAndGradient (kernel)", () => CrossEntropy.LossAndGradient(logits, targets, gradient, options)),
                ("LossAndGradient in place (kernel)", () => CrossEntropy.LossAndGradient(inPlace, targets, inPlace, options)),
            };
            foreach (int t in counts)
            {
                reads.AddRange(MemoryLimits.ReadMethods.Where(m => t > 1 || m.ChunkBytes == 0)
                    .Select(m => ($"{m.ReadName}, {t} thr", (Action)(() => MemoryLimits.Read(logits, t, m)))));
                copies.AddRange(MemoryLimits.CopyMethods.Where(m => t > 1 || m.ChunkBytes == 0)
                    .Select(m => ($"{m.CopyName}, {t} thr", (Action)(() => MemoryLimits.Copy(logits, gradient, t, m)))));
            }

            Console.WriteLine($"{shape}:");
            Report(reads, rounds, logits.Length * 4L);
            Report(copies, rounds, logits.Length * 8L);
        }
    }

    private static void Report(List<(string Name, Action Call)> cases, int rounds, long bytes)
    {
        TierUp.Warm([.. cases.Select(c => c.Call)], seconds: 0.5);

        var times = cases.Select(_ => new List<double>()).ToArray();
        for (int r = 0; r < rounds; r++)
        {
            for (int c = 0; c < cases.Count; c++)
            {
                var clock = Stopwatch.StartNew();
                cases[c].Call();
                times[c].Add(clock.Elapsed.TotalMilliseconds);
            }
        }

        double Median(List<double> t) => t.Order().ElementAt(t.Count / 2);
        double kernel = Median(times[0]);
        int best = Enumerable.Range(1, cases.Count - 1).MinBy(c => Median(times[c]));
        for (int c = 0; c < cases.Count; c++)
        {
            Console.WriteLine($"  {cases[c].Name,-50} {Median(times[c]),8:F2} ({times[c].Min():F2}-{times[c].Max():F2})  {bytes / Median(times[c]) / 1e6,6:F1} GB/s  kernel / this {kernel / Median(times[c]):F2}{(c == best ? "  <- best" : "")}");
        }
    }
}
