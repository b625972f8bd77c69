using System.Diagnostics;
using System.Globalization;
using Xent.Kernels;

namespace Xent.Benchmarks;

/// <summary>
/// Back-to-back cross-entropy calls of one shape, as a loop of small batches makes them: per call the median time of
/// <c>Loss</c> and of <c>LossAndGradient</c> (out of place) over rounds, with the range, and how often the pool's worker
/// went to sleep per call (a call that finds it asleep pays its wake-up). For per-call costs: 2048 x 1 is almost only
/// the fixed cost of a call. Compare two builds by alternating their processes.
/// Run: dotnet bench/Xent.Benchmarks/bin/Release/net10.0/Xent.Benchmarks.dll ce-calls [rows] [classes] [threads] [rounds] [case]
/// (case: Loss or LossAndGradient alone, for a profile of one of them; "probabilities": both with probability targets).
/// </summary>
internal static class CeCalls
{
    public static void Run(string[] args)
    {
        int rows = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 2048;
        int classes = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 32;
        int threads = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 2;
        int rounds = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 21;
        var random = new Random(42);
        var logits = new float[rows * classes];
        for (int i = 0; i < logits.Length; i++)
        {
            logits[i] = (float)((random.NextDouble() * 8) - 4);
        }

        var targets = Enumerable.Range(0, rows).Select(_ => random.Next(classes)).ToArray();
        var gradient = new float[logits.Length];
        var options = new CrossEntropyOptions { MaxDegreeOfParallelism = threads };
        var cases = new (string Name, Action Call)[]
        {
            ("Loss", () => CrossEntropy.Loss(logits, targets, options)),
            ("LossAndGradient", () => CrossEntropy.LossAndGradient(logits, targets, gradient, options)),
        };
        if (args.Length > 4 && args[4] == "probabilities")
        {
            // Probability targets (one-hot smoothed a little, so that every class has weight), which take the row loop.
            var probabilities = new float[logits.Length];
            for (int n = 0; n < rows; n++)
            {
                for (int c = 0; c < classes; c++)
                {
                    probabilities[(n * classes) + c] = (c == targets[n] ? 0.9f : 0f) + (0.1f / classes);
                }
            }

            cases =
            [
                ("Loss, probabilities", () => CrossEntropy.Loss(logits, probabilities, classes, options)),
                ("LossAndGradient, probabilities", () => CrossEntropy.LossAndGradient(logits, probabilities, classes, gradient, options)),
            ];
        }
        else if (args.Length > 4)
        {
            cases = [.. cases.Where(c => c.Name == args[4])];
            if (cases.Length == 0)
            {
                throw new ArgumentException($"No case {args[4]}: Loss, LossAndGradient or probabilities.");
            }
        }

        TierUp.Warm([.. cases.Select(c => c.Call)]);

        // Each round about 20 ms of one case's calls.
        int calls = Math.Max(10, (int)(20e-3 / Seconds(cases[^1].Call, 10)));
        var times = cases.Select(_ => new List<double>()).ToArray();
        var sleeps = new long[cases.Length];
        for (int r = 0; r < rounds; r++)
        {
            for (int c = 0; c < cases.Length; c++)
            {
                long before = WorkerPool.Sleeps;
                times[c].Add(Seconds(cases[c].Call, calls));
                sleeps[c] += WorkerPool.Sleeps - before;
            }
        }

        // The serial stretch of each call: from one call's parallel region to the next call's, in the calling thread (the
        // worker sleeps when it outlasts the worker's spin, about 50 us).
        var gaps = cases.Select(_ => new List<double>()).ToArray();
        var observer = new Gaps();
        ParallelWork.Observer = observer;
        for (int c = 0; c < cases.Length; c++)
        {
            for (int k = 0; k < 30; k++)
            {
                cases[c].Call();
                if (k > 0 && observer.Gap > 0)
                {
                    gaps[c].Add(observer.Gap);
                }
            }
        }

        ParallelWork.Observer = null;
        Console.WriteLine($"ce-calls {rows} x {classes}, {threads} thread(s), width {Environment.GetEnvironmentVariable("XENT_VECTOR_WIDTH") ?? "default"}, {rounds} rounds of {calls} calls; us per call");
        for (int c = 0; c < cases.Length; c++)
        {
            var t = times[c].Order().ToList();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {cases[c].Name} | {t[t.Count / 2] * 1e6:F2} | {t[0] * 1e6:F2} - {t[^1] * 1e6:F2} | worker sleeps per call {sleeps[c] / (double)(rounds * calls):F2} | serial us between parallel regions {(gaps[c].Count > 0 ? gaps[c].Order().ElementAt(gaps[c].Count / 2) : double.NaN):F1} |"));
        }
    }

    private sealed class Gaps : ParallelWork.IObserver
    {
        private long lastEnd;

        /// <summary>The microseconds from the last parallel region's end to the latest one's start (0 for an inline one).</summary>
        public double Gap { get; private set; }

        public Action<int> Begin(int count, bool parallel, Action<int> body)
        {
            long now = Stopwatch.GetTimestamp();
            Gap = parallel && lastEnd > 0 ? Stopwatch.GetElapsedTime(lastEnd, now).TotalMicroseconds : 0;
            return body;
        }

        public void End() => lastEnd = Stopwatch.GetTimestamp();
    }

    private static double Seconds(Action call, int calls)
    {
        long start = Stopwatch.GetTimestamp();
        for (int k = 0; k < calls; k++)
        {
            call();
        }

        return Stopwatch.GetElapsedTime(start).TotalSeconds / calls;
    }
}
