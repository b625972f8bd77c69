using System.Diagnostics;
using System.Globalization;
using Xent.Baselines;
using Xent.Kernels;

namespace Xent.Benchmarks;

/// <summary>
/// Float LossAndGradient (bfloat16 -> bfloat16 with <c>bf16</c>, Half -> Half with <c>half</c>, label smoothing 0.1 with <c>smooth</c>) with the forward's exponentials stored and scaled
/// against recomputed in the write pass, out of place and in place, in one process, alternating call by call, beside
/// the copy limit of the same buffers (every copy method timed first, the fastest few again beside the calls, the limit
/// the fastest median of all: <see cref="LimitReruns.FastestCopyAndInPlace"/>, as `xent bench` takes it; in place, the
/// fastest way to read and write them, <see cref="CopyMethod.InPlace"/> among them): thread CPU time on one thread, wall
/// time on more. In place copies the logits back before each call, untimed; each Xent call comes right after an untimed
/// <see cref="PoolLead"/>, the limits after none.
/// XENT_VECTOR_WIDTH=256 runs the 256-bit paths.
/// Run: dotnet run -c Release --project bench/Xent.Benchmarks -- recompute-compare [rounds] [threads] [bf16|half|smooth] [NxV ...]
/// </summary>
internal static class RecomputeCompare
{
    public static void Run(string[] args)
    {
        int rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 9;
        int threads = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1;
        bool bf16 = args.Length > 2 && args[2] == "bf16", half = args.Length > 2 && args[2] == "half", smooth = args.Length > 2 && args[2] == "smooth";
        int first = bf16 || half || smooth ? 3 : 2;
        string[] shapes = args.Length > first ? args[first..] : ["256x50257", "2048x50257", "8192x32000"];
        Console.WriteLine($"width {Simd.Width}, {(bf16 ? "bfloat16" : half ? "Half" : "float")}{(smooth ? ", label smoothing 0.1" : "")}, {threads} thread(s), {rounds} rounds; ms per call, median (min-max); {(threads == 1 ? "thread CPU time" : "wall time")}");
        foreach (var shape in shapes)
        {
            var (rows, classes, logits, targets) = RandomLogits.Create(shape);
            var options = new CrossEntropyOptions { MaxDegreeOfParallelism = threads, LabelSmoothing = smooth ? 0.1f : 0f };
            var gradient = new float[logits.Length];
            var work = new float[logits.Length];
            var ranked = MemoryLimits.QuickRanked(logits, gradient, threads == 1 ? [1] : [1, threads]).Copies;
            var logits16 = bf16 ? logits.Select(v => (BFloat16)v).ToArray() : [];
            var gradient16 = new BFloat16[logits16.Length];
            var work16 = new BFloat16[logits16.Length];
            var logitsHalf = half ? logits.Select(v => (Half)v).ToArray() : [];
            var gradientHalf = new Half[logitsHalf.Length];
            var workHalf = new Half[logitsHalf.Length];
            Action Case(bool store, bool inPlace) => () =>
            {
                using var scope = CrossEntropyKernel.OverrideStoredExponentials(store);
                if (bf16)
                {
                    CrossEntropy.LossAndGradient(inPlace ? work16 : logits16, targets, inPlace ? work16 : gradient16, options);
                }
                else if (half)
                {
                    CrossEntropy.LossAndGradient(inPlace ? workHalf : logitsHalf, targets, inPlace ? workHalf : gradientHalf, options);
                }
                else
                {
                    CrossEntropy.LossAndGradient(inPlace ? work : logits, targets, inPlace ? work : gradient, options);
                }
            };
            Action Reset(bool inPlace) => !inPlace ? () => { } : bf16 ? () => logits16.CopyTo(work16, 0) : half ? () => logitsHalf.CopyTo(workHalf, 0) : () => logits.CopyTo(work, 0);
            (string Name, bool InPlace, Action Call, Action Reset)[] cases =
            [
                ("out of place, stored", false, Case(true, false), Reset(false)),
                ("out of place, recomputed", false, Case(false, false), Reset(false)),
                ("in place, stored", true, Case(true, true), Reset(true)),
                ("in place, recomputed", true, Case(false, true), Reset(true)),
            ];

            var (times, copyLimit, inPlaceLimit, leaders, jitLine) = CopyLimitRounds.Run([.. cases.Select(c => (c.Call, c.Reset))], logits, gradient, ranked, threads, rounds);
            double Median(List<double> t) => t.Order().ElementAt(t.Count / 2);
            // Out of place against the copies between two buffers, in place against every way to read and write.
            Console.WriteLine($"{shape}: copy limit {CopyLimitRounds.Show(copyLimit)}, in place {CopyLimitRounds.Show(inPlaceLimit)}; the fastest median of every method, {LimitReruns.Describe(leaders)} again beside the calls");
            for (int c = 0; c < cases.Length; c++)
            {
                var t = times[c];
                bool inPlace = cases[c].InPlace;
                Console.WriteLine($"  {cases[c].Name,-26} {Median(t),8:F2} ({t.Min():F2}-{t.Max():F2}) = {Median(t) / ((inPlace ? inPlaceLimit : copyLimit).Timing.Median * 1e3):F2}x the {(inPlace ? "in-place" : "copy")} limit");
            }

            Console.WriteLine($"  recomputed / stored: out of place {Median(times[1]) / Median(times[0]):F3}, in place {Median(times[3]) / Median(times[2]):F3}");
            Console.WriteLine($"{shape}: {jitLine}");
        }
    }
}
