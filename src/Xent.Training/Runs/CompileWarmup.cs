using Xent.Training.Model;

namespace Xent.Training.Runs;

/// <summary>
/// Compiles a run's kernels before its first step, on a core the run does not use yet: one training step and one
/// validation batch of a throwaway one-layer copy of the plan's model, with the plan's batch, sequence, options and
/// threads, started as the run is prepared (the folder lock, the header, the metrics file and the model's
/// initialisation are work for one core). The kernels are compiled fully optimised on first use, and compiling
/// them made the first step of the default run 3.5-5.7x the later ones; on its own thread that time overlaps the
/// preparation instead of delaying the first step.
/// </summary>
/// <remarks>
/// The copy has its own parameters, optimizer state and buffers, so the run computes the same bits with or without
/// it. It is skipped where it would cost much memory (a large vocabulary's embedding: there a step is long and its
/// compilation a small share of it) and for a plan fitted to a time budget, which has already run steps.
/// </remarks>
internal static class CompileWarmup
{
    /// <summary>Most bytes the copy may take (parameters, gradients, optimizer state and activations).</summary>
    internal const long MaxBytes = 64L << 20;

    /// <summary>Whether runs warm up; cleared by tests and, with XENT_WARMUP=0, by measurements of the first step without it.</summary>
    internal static bool Enabled { get; set; } = Environment.GetEnvironmentVariable("XENT_WARMUP") != "0";

    /// <summary>Starts the warm-up on a thread of its own; null when the plan does not get one.</summary>
    /// <param name="plan">The run about to start.</param>
    public static Task? Start(TrainingPlan plan)
    {
        if (plan.TimeBudget is not null || !Enabled)
        {
            return null;
        }

        GptConfig config = plan.Model with { Layers = 1 };
        if (GptMemory.TrainingBytes(config, plan.Batch, plan.Seq, resuming: false) > Math.Min(MaxBytes, GptMemory.AvailableBytes() / 8))
        {
            return null;
        }

        return Task.Factory.StartNew(() => Run(plan, config), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    /// <summary>Waits for a warm-up started by <see cref="Start"/>, so that it does not share the cores with the run's first steps.</summary>
    /// <param name="warmup">The warm-up, or null.</param>
    public static void Wait(Task? warmup) => warmup?.GetAwaiter().GetResult();

    private static void Run(TrainingPlan plan, GptConfig config)
    {
        try
        {
            var model = new GptModel(config, plan.Seed);
            if (plan.Threads is { } threads)
            {
                model.MaxDegreeOfParallelism = threads;
            }

            var trainer = new Trainer(model, plan.ToTrainerOptions());
            var tokens = new int[plan.Batch * plan.Seq];
            trainer.Step(tokens, tokens, plan.Batch, plan.Seq);
            model.Loss(tokens, tokens, plan.Batch, plan.Seq);
        }
#pragma warning disable CA1031 // A failed warm-up only leaves the compilation to the run, whose own calls report any error.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }
}
