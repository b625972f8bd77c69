using System.Diagnostics;
using System.Globalization;
using Xent.Baselines;
using Xent.Kernels;

namespace Xent.Benchmarks;

/// <summary>
/// Every read and copy method of <see cref="MemoryLimits"/> on one and on the asked threads, side by side with the
/// kernels they bound (Loss for reads, out-of-place LossAndGradient for copies) on the same buffers, call after call
/// in each round: which method is fastest on this machine, and whether the best stays above the kernels. Wall time,
/// GB/s at the median; kernel / method below 1 means the method is faster than the kernel (as a limit must be). The
/// copies are against both kernels that write: out of place, whose limit is the fastest copy between two buffers
/// ("best copy"), and in place, whose limit is the fastest of those and the rewrite in place ("best in place").
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
            var reads = new List<(string Name, bool InPlace, int Threads, Action Call)> { ("Loss (kernel)", false, threads, () => CrossEntropy.Loss(logits, targets, options)) };
            var inPlace = logits.ToArray(); // its values turn into gradients call by call: the same work for the kernel
            var copies = new List<(string Name, bool InPlace, int Threads, Action Call)>
            {
                ("LossAndGradient (kernel)", false, threads, () => CrossEntropy.LossAndGradient(logits, targets, gradient, options)),
                ("LossAndGradient in place (kernel)", true, threads, () => CrossEntropy.LossAndGradient(inPlace, targets, inPlace, options)),
            };
            foreach (int t in counts)
            {
                reads.AddRange(MemoryLimits.ReadMethods.Where(m => t > 1 || m.ChunkBytes == 0)
                    .Select(m => ($"{m.ReadName}, {t} thr", false, t, (Action)(() => MemoryLimits.Read(logits, t, m)))));
                copies.AddRange(MemoryLimits.CopyMethods.Where(m => t > 1 || m.ChunkBytes == 0)
                    .Select(m => ($"{m.CopyName}, {t} thr", m.Copy == CopyMethod.InPlace, t, (Action)(() => MemoryLimits.Copy(logits, gradient, t, m)))));
            }

            Console.WriteLine($"{shape}:");
            Report(reads, 1, rounds, logits.Length * 4L);
            Report(copies, 2, rounds, logits.Length * 8L);
        }
    }

    /// <param name="cases">The kernels first, then the methods that bound them.</param>
    /// <param name="kernels">How many of the cases are kernels: Loss; or LossAndGradient out of place, then in place.</param>
    private static void Report(List<(string Name, bool InPlace, int Threads, Action Call)> cases, int kernels, int rounds, long bytes)
    {
        // The first method on the pool's threads follows one on a single thread, which left the worker asleep: an
        // untimed lead hands it the worker awake, as every other pool user finds it. None before a one-thread method,
        // where the worker left spinning would take a core.
        var leads = cases.Select(c => c.Threads != 1 ? PoolLead.Wake(c.Threads) : null).ToArray();

        // One case's turn in a round: its lead, then the call, timed.
        double Turn(int c)
        {
            leads[c]?.Invoke();
            var clock = Stopwatch.StartNew();
            cases[c].Call();
            return clock.Elapsed.TotalMilliseconds;
        }

        // The turns warmed until steady (the timing code in them too): 40 rounds and 0.5 s left every shape's rounds
        // compiling 7-49 methods.
        var (times, jitLine) = TierUp.Rounds(cases.Count, rounds, Turn);
        double Median(List<double> t) => t.Order().ElementAt(t.Count / 2);
        var methods = Enumerable.Range(kernels, cases.Count - kernels).ToList();

        // A kernel that writes over what it reads may be held to the rewrite in place; one that writes a buffer of its
        // own only to the copies between two buffers.
        int best = methods.Where(c => !cases[c].InPlace).MinBy(c => Median(times[c]));
        int bestInPlace = methods.MinBy(c => Median(times[c]));
        string header = string.Join("  ", Enumerable.Range(0, kernels).Select(k => k == 0 ? "kernel / this" : "in place / this"));
        Console.WriteLine($"  {"",-50} {"ms",8} {"",13}  {"GB/s",6}  {header}");
        for (int c = 0; c < cases.Count; c++)
        {
            string ratios = string.Join("  ", Enumerable.Range(0, kernels).Select(k => $"{Median(times[k]) / Median(times[c]),13:F2}".PadLeft(k == 0 ? 13 : 15)));
            string mark = kernels == 1 ? (c == best ? "  <- best" : "")
                : (c == best ? "  <- best copy" : "") + (c == bestInPlace ? "  <- best in place" : "");
            Console.WriteLine($"  {cases[c].Name,-50} {Median(times[c]),8:F2} ({times[c].Min():F2}-{times[c].Max():F2})  {bytes / Median(times[c]) / 1e6,6:F1}  {ratios}{mark}");
        }

        Console.WriteLine($"  {jitLine}");
    }
}
