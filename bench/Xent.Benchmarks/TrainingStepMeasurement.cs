using System.Diagnostics;
using Xent.Training;
using Xent.Training.Model;

namespace Xent.Benchmarks;

/// <summary>
/// Training-step throughput and memory in one process, for 1 and 2 threads side by side: median / min / max step
/// time over k steps (after a warm-up past tiered compilation: at least 40 steps and 1 s), tokens/s = B x T / median, the median share of the whole step
/// (norm and AdamW included) spent in the loss head (its Stopwatch inside GptModel), and memory: resident growth
/// from an empty process to after the warm-up (parameters, gradients, AdamW moments, activations, runtime) and
/// the transient peak above that during the measured steps (VmHWM after /proc/self/clear_refs), against one
/// logits tensor N x V x 4 bytes. CPU time per step (all threads together) is printed too: on a loaded machine it
/// is a steadier number than wall time. A second line splits the step: forward, loss head, backward below the
/// head, and the rest (gradient norm, clipping and AdamW); a third holds the head's and the blocks' matrix-product
/// rates against the FMA limit (<see cref="FlopLimit"/>) measured right after the steps, with the same threads.
/// Run: dotnet run -c Release --project bench/Xent.Benchmarks -- training-step [default|gpt2-L1|gpt2-L2|...] [steps] [threads (default: 1, then 2)]
/// </summary>
internal static class TrainingStepMeasurement
{
    public static void Run(string[] args)
    {
        string shape = args.Length > 0 ? args[0] : "default";
        KeepAttentionProbabilitiesIfAsked();
        int steps = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 20;
        int[] threadCounts = args.Length > 2 ? [int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture)] : [1, 2];
        foreach (int threads in threadCounts)
        {
            Measure(shape, steps, threads);
        }
    }

    internal static (GptConfig Config, int Batch, int Seq) Shape(string shape)
    {
        if (shape == "default")
        {
            // The `xent train` defaults: 32 Markov symbols, T 128, L 2, D 64, H 4, batch 16.
            var config = new GptConfig { VocabSize = 32, ContextLength = 128, Layers = 2, Dim = 64, Heads = 4 };
            return (config, 16, config.ContextLength);
        }

        int layers = int.Parse(shape.AsSpan("gpt2-L".Length), System.Globalization.CultureInfo.InvariantCulture);
        return (new GptConfig { VocabSize = 50257, ContextLength = 64, Layers = layers, Heads = 12, Dim = 768 }, 4, 64);
    }

    private static void Measure(string shape, int steps, int threads)
    {
        GC.Collect(2, GCCollectionMode.Forced, true, true);
        long rss0 = Status("VmRSS");
        var (config, batch, seq) = Shape(shape);
        var random = new Random(1);
        int[] tokens = [.. Enumerable.Range(0, batch * seq).Select(_ => random.Next(config.VocabSize))];
        int[] targets = [.. Enumerable.Range(0, batch * seq).Select(_ => random.Next(config.VocabSize))];
        var model = new GptModel(config, seed: 1) { MaxDegreeOfParallelism = threads };
        var trainer = new Trainer(model, new TrainerOptions { Optimizer = new Optim.AdamWOptions { MaxDegreeOfParallelism = threads } });
        // Warm-up past tier-up (at least 40 steps and 1 s): the JIT, the thread pool and lazily touched pages (GC
        // heap, AdamW moments, kernel workspaces) settle in the first two steps, but the model's driver code runs at
        // tier 0 until tiered compilation promotes it, and six warm-up steps (as before) left most of a 40-step
        // measurement of the default model at 1 thread in that state, and its background compile on the other core.
        TierUp.Warm([() => trainer.Step(tokens, targets, batch, seq)]);

        long rss1 = Status("VmRSS");
        File.WriteAllText("/proc/self/clear_refs", "5");
        var process = Process.GetCurrentProcess();
        process.Refresh();
        var cpu0 = process.TotalProcessorTime;
        var threads0 = ThreadCpu();
        long allocated0 = GC.GetTotalAllocatedBytes(true);
        var times = new List<double>();
        var shares = new List<double>();
        var parts = new List<double>[] { [], [], [], [] };
        for (int k = 0; k < steps; k++)
        {
            long start = Stopwatch.GetTimestamp();
            trainer.Step(tokens, targets, batch, seq);
            var elapsed = Stopwatch.GetElapsedTime(start);
            times.Add(elapsed.TotalMilliseconds);
            var split = model.LastStepTimings;
            shares.Add(split.LossHead / elapsed);
            parts[0].Add(split.Forward.TotalMilliseconds);
            parts[1].Add(split.LossHead.TotalMilliseconds);
            parts[2].Add(split.Backward.TotalMilliseconds);
            parts[3].Add((elapsed - split.Total).TotalMilliseconds);
        }

        var threadSteps = ThreadCpu().Select(t => (t.Key, t.Value.Name, Ms: (t.Value.Ns - threads0.GetValueOrDefault(t.Key).Ns) / 1e6 / steps))
            .Where(t => t.Ms >= 0.05).OrderByDescending(t => t.Ms).ToList();
        long peak = Status("VmHWM");
        process.Refresh();
        double cpuPerStep = (process.TotalProcessorTime - cpu0).TotalMilliseconds / steps;
        double allocatedPerStep = (GC.GetTotalAllocatedBytes(true) - allocated0) / (double)steps;
        times.Sort();
        shares.Sort();
        double median = times[times.Count / 2];
        long logits = 4L * batch * seq * config.VocabSize;
        Console.WriteLine(
            $"{shape} threads {threads}: {model.ParameterCount:N0} params, step median {median:F1} ms (min {times[0]:F1}, max {times[^1]:F1}, {steps} steps), " +
            $"{batch * seq / median * 1000:F0} tokens/s, CPU {cpuPerStep:F1} ms per step (all threads), loss head {shares[shares.Count / 2]:P1} of the step; " +
            $"memory: +{(rss1 - rss0) / 1024.0:F0} MB resident after warm-up (state {16.0 * model.ParameterCount / 1048576:F0} MB, " +
            $"activations {model.ActivationBytes / 1048576.0:F1} MB), transient peak above that {Math.Max(0, peak - rss1) / 1024.0:F1} MB, " +
            $"N x V x 4 = {logits / 1048576.0:F1} MB; managed allocations {allocatedPerStep / 1024:F0} KB per step");
        Console.WriteLine(
            $"  split (medians, ms): forward {Median(parts[0]):F1}, loss head {Median(parts[1]):F1}, backward below the head {Median(parts[2]):F1}, " +
            $"norm + clipping + AdamW {Median(parts[3]):F1}");
        // Which threads took the CPU time: the 2-thread step runs in some processes about 1.4x slower with more CPU
        // per step; this says whether a thread beyond the caller and the kernel workers took it.
        Console.WriteLine($"  CPU per step by thread (ms): {string.Join(", ", threadSteps.Select(t => $"{t.Name} [{t.Key}] {t.Ms:F2}"))}");

        // Matrix-product work: the head 6 N D V (forward, dh, dW); a block 72 N D^2 (weights, forward + backward)
        // + 12 N T D (attention scores and mixing, counted dense). Against the FMA limit measured right after.
        double n = batch * seq, d = config.Dim;
        double headFlop = 6 * n * d * config.VocabSize;
        double blockFlop = config.Layers * ((72 * n * d * d) + (12 * n * seq * d));
        double limit = FlopLimit.Measure(threads);
        double headRate = headFlop / Median(parts[1]) / 1e6, blockRate = blockFlop / (Median(parts[0]) + Median(parts[2])) / 1e6;
        Console.WriteLine(
            $"  matrix work: loss head {headFlop / 1e9:F2} GFLOP at {headRate:F0} GFLOP/s ({headRate / limit:P0} of the FMA limit), " +
            $"blocks {blockFlop / 1e9:F2} GFLOP at {blockRate:F0} GFLOP/s ({blockRate / limit:P0}); FMA limit now {limit:F0} GFLOP/s with {threads} thread(s); " +
            $"head share of the work {headFlop / (headFlop + blockFlop):P1}");
    }

    private static double Median(List<double> x)
    {
        var s = x.Order().ToList();
        return s[s.Count / 2];
    }

    /// <summary>Each thread of the process: its name and the CPU time the scheduler counted (Linux; empty elsewhere).</summary>
    private static Dictionary<int, (string Name, long Ns)> ThreadCpu()
    {
        var result = new Dictionary<int, (string Name, long Ns)>();
        if (!OperatingSystem.IsLinux())
        {
            return result;
        }

        foreach (var dir in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                int id = int.Parse(Path.GetFileName(dir), System.Globalization.CultureInfo.InvariantCulture);
                string name = File.ReadAllText(Path.Combine(dir, "comm")).Trim();
                long ns = long.Parse(File.ReadAllText(Path.Combine(dir, "schedstat")).Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
                result[id] = (name, ns);
            }
            catch (IOException)
            {
                // The thread ended meanwhile.
            }
        }

        return result;
    }

    private static long Status(string key)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith(key + ":", StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(key.Length + 1).Trim().TrimEnd("kB").Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }

    /// <summary>XENT_AB=keepatt: the model keeps its attention probabilities, as before (to time the recomputation beside it).</summary>
    internal static void KeepAttentionProbabilitiesIfAsked()
    {
        if (Environment.GetEnvironmentVariable("XENT_AB") == "keepatt")
        {
            Xent.Training.Model.GptModel.KeepAttentionProbabilities = true;
            Console.WriteLine("XENT_AB=keepatt: the attention probabilities are kept for the backward");
        }
    }
}
