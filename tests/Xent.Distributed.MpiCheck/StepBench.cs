using System.Diagnostics;
using System.Globalization;
using Xent.Distributed.Training;
using Xent.Training;
using Xent.Training.Data;
using Xent.Training.Model;
using Xent.Training.Runs;

namespace Xent.Distributed.MpiCheck;

/// <summary>
/// "bench SHAPE MODE STEPS THREADS": times data-parallel training steps (dp; dpu with an untied unembedding) or with the
/// vocabulary-parallel head (vp, untied)
/// of the default model (default: V 32, D 64, 2 layers, batch 16 x 128) or a GPT-2-small-like one (gpt2: V 50257,
/// D 768, 12 layers, 12 heads, batch 4 x 128), on random tokens; rank 0 prints the median step time, the share of it
/// spent in collectives (waiting for the other ranks included) and the bytes each rank put into them per step.
/// </summary>
internal static class StepBench
{
    public static int Run(ICommunicator world, string[] args)
    {
        string shape = args.Length > 1 ? args[1] : "default", mode = args.Length > 2 ? args[2] : "dp";
        int steps = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 5;
        int threads = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : -1;
        var (config, batch) = shape == "gpt2"
            ? (new GptConfig { VocabSize = 50257, ContextLength = 128, Layers = 12, Heads = 12, Dim = 768, TieEmbeddings = mode == "dp" }, 4)
            : (new GptConfig { VocabSize = 32, ContextLength = 128, Layers = 2, Heads = 4, Dim = 64, TieEmbeddings = mode == "dp" }, 16);
        using var timed = new TimedCommunicator(world);
        var step = new DataParallelStep(timed, 1, vocabParallel: mode == "vp");
        var plan = new TrainingPlan { Model = config, Data = TokenDataset.Markov(), OutDir = "unused", Batch = batch };
        var model = step.CreateModel(plan);
        model.MaxDegreeOfParallelism = threads;
        var trainer = new Trainer(model, plan.ToTrainerOptions());
        var random = new Random(1);
        int n = batch * config.ContextLength;
        var tokens = Enumerable.Range(0, n).Select(_ => random.Next(config.VocabSize)).ToArray();
        var targets = Enumerable.Range(0, n).Select(_ => random.Next(config.VocabSize)).ToArray();
        step.Step(trainer, tokens, targets, batch, config.ContextLength); // warm-up: buffers, JIT
        var times = new List<double>();
        var shares = new List<double>();
        long bytes = 0;
        for (int s = 0; s < steps; s++)
        {
            timed.Reset();
            world.Barrier();
            long start = Stopwatch.GetTimestamp();
            step.Step(trainer, tokens, targets, batch, config.ContextLength);
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            times.Add(seconds);
            shares.Add(timed.Ticks / (double)Stopwatch.Frequency / seconds);
            bytes = timed.Bytes;
        }

        times.Sort();
        shares.Sort();
        if (world.Rank == 0)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"bench {shape} {mode} K={world.Size} threads={threads}: step {times[steps / 2] * 1000:F1} ms (range {times[0] * 1000:F1}-{times[^1] * 1000:F1}), collectives {shares[steps / 2]:P1} of the step (range {shares[0]:P1}-{shares[^1]:P1}), {bytes / 1e6:F3} MB into collectives per rank and step, {model.ParameterCount / 1e6:F2} M parameters"));
        }

        return 0;
    }
}
