using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Xent.Training;
using Xent.Training.Model;

namespace Xent.Benchmarks;

/// <summary>
/// One training step of the GPT model (forward, backward, clipping, AdamW) for the `xent train` default and for
/// GPT-2-small-shaped layers (D 768, 12 heads, V 50257, T 64, B 4) with as few layers as fit.
/// Tokens per step = B x T; tokens/s = B x T / (step time). After the run, each case prints the median share of
/// the step spent in the loss head (GptModel.LastStepTimings) and the process's peak working set against the
/// size of one logits tensor N x V x 4 bytes.
/// Run: dotnet run -c Release --project bench/Xent.Benchmarks -- --filter '*TrainingStep*'
/// </summary>
[MemoryDiagnoser]
// 30 warm-up steps: the tiered JIT promotes methods after 30 calls; with fewer, short steps run partly unoptimised code.
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 30, iterationCount: MeasuredSteps, invocationCount: 1)]
public class TrainingStepBenchmarks
{
    private const int MeasuredSteps = 9;

    private readonly List<double> headShares = [];
    private readonly List<double> stepSeconds = [];
    private Trainer trainer = null!;
    private int[] tokens = [];
    private int[] targets = [];
    private int batch;
    private int seq;

    /// <summary>"default" (the built-in corpus run) or "gpt2-L{n}" (GPT-2 small widths, n layers).</summary>
    [Params("default", "gpt2-L1", "gpt2-L2")]
    public string Shape { get; set; } = "default";

    [GlobalSetup]
    public void Setup()
    {
        (var config, batch, seq) = TrainingStepMeasurement.Shape(Shape);

        var random = new Random(1);
        tokens = [.. Enumerable.Range(0, batch * seq).Select(_ => random.Next(config.VocabSize))];
        targets = [.. Enumerable.Range(0, batch * seq).Select(_ => random.Next(config.VocabSize))];
        trainer = new Trainer(new GptModel(config, seed: 1));
        trainer.Step(tokens, targets, batch, seq);
    }

    [Benchmark]
    public float TrainingStep()
    {
        long start = Stopwatch.GetTimestamp();
        float loss = trainer.Step(tokens, targets, batch, seq).Loss;
        var elapsed = Stopwatch.GetElapsedTime(start);
        stepSeconds.Add(elapsed.TotalSeconds);
        headShares.Add(trainer.Model.LastStepTimings.LossHead / elapsed);
        return loss;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        // The lists hold the warm-up steps too: summarise the measured ones (the last MeasuredSteps).
        var config = trainer.Model.Config;
        var steps = stepSeconds.TakeLast(MeasuredSteps).ToList();
        double median = Median(steps), share = Median(headShares.TakeLast(MeasuredSteps).ToList());
        long logitsBytes = 4L * batch * seq * config.VocabSize;
        long peak = Process.GetCurrentProcess().PeakWorkingSet64;
        long state = 16L * trainer.Model.ParameterCount; // parameters, gradients, AdamW m and v
        Console.WriteLine(
            $"// TrainingStep {Shape}: params {trainer.Model.ParameterCount:N0}, step median {median * 1e3:F1} ms " +
            $"(min {steps.Min() * 1e3:F1}, max {steps.Max() * 1e3:F1}), {batch * seq / median:F0} tokens/s, " +
            $"loss head {share:P1} of the step, peak working set {peak / 1e6:F0} MB, N x V x 4 = {logitsBytes / 1e6:F1} MB, " +
            $"params+grads+AdamW {state / 1e6:F0} MB, activations {trainer.Model.ActivationBytes / 1e6:F1} MB");
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted[sorted.Length / 2];
    }
}
