using Xent.Kernels;
using Xent.Training.Model;
using Xent.Training.Runs;

namespace Xent.Training;

/// <summary>
/// Compiles the kernels of a model's training steps before the first step, on a thread of its own: one training step
/// and one forward pass of a throwaway one-layer copy of the model, with the run's batch, sequence, options and
/// threads. The kernels are compiled fully optimised on first use, and compiling them made the first step of
/// <c>xent train</c>'s default model 3-5x a later one; started while a run is prepared (its data, its files, its
/// model's initialisation: work for one core), that time overlaps the preparation instead of delaying the first step.
/// <see cref="TrainingLoop"/> starts one itself; a loop of one's own around <see cref="Trainer"/> calls
/// <see cref="Start(GptConfig, int, int, TrainerOptions?, int?)"/> as early as the model's shape is known and waits for
/// it before the first step.
/// </summary>
/// <remarks>
/// The copy has its own parameters, optimizer state and buffers: the run computes the same bits with or without it.
/// It takes the memory of a one-layer model (<see cref="GptMemory.TrainingBytes"/>) until it ends.
/// </remarks>
public static class CompileWarmup
{
    /// <summary>Most bytes the copy may take in a <see cref="TrainingLoop"/>'s own warm-up.</summary>
    internal const long MaxBytes = 64L << 20;

    /// <summary>The variable that turns a <see cref="TrainingLoop"/>'s warm-up off (0) for measurements of the first step without it.</summary>
    internal const string EnvironmentVariable = "XENT_WARMUP";

    private static readonly bool EnabledByEnvironment = ParseSwitch(Environment.GetEnvironmentVariable(EnvironmentVariable)) ?? true;

    // Tests set these for their own flow: a process-wide switch turned the warm-up off for every test running beside
    // the one that set it (and left it on after it, whatever XENT_WARMUP said), and the memory left is the machine's.
    private static readonly AsyncOverride<bool> EnabledOverride = new();
    private static readonly AsyncOverride<long> AvailableOverride = new();

    // A test's watch on the warm-ups TrainingLoop starts in its flow (Watch).
    private static readonly AsyncOverride<Watcher> WatchOverride = new();

    /// <summary>Whether a <see cref="TrainingLoop"/> warms up: <see cref="EnvironmentVariable"/>, unless overridden.</summary>
    internal static bool Enabled => EnabledOverride.Value ?? EnabledByEnvironment;

    /// <summary>Turns a <see cref="TrainingLoop"/>'s warm-up on or off for the calling async flow until disposed (tests).</summary>
    internal static AsyncOverride<bool>.Scope Override(bool enabled) => EnabledOverride.Set(enabled);

    /// <summary>
    /// Hands each warm-up a <see cref="TrainingLoop"/> starts in the calling async flow to <paramref name="watch"/>, which
    /// returns the task the loop is to wait for in its place (the same, or one that ends later), until disposed (tests:
    /// whether every way out of a command waited for it).
    /// </summary>
    internal static AsyncOverride<Watcher>.Scope Watch(Func<Task, Task> watch) => WatchOverride.Set(new Watcher(watch));

    /// <summary>Sets the memory left that a <see cref="TrainingLoop"/>'s warm-up is weighed against, for the calling async flow until disposed (tests).</summary>
    internal static AsyncOverride<long>.Scope OverrideAvailableBytes(long bytes) => AvailableOverride.Set(bytes);

    /// <summary>
    /// What <see cref="EnvironmentVariable"/> should be where its value is not one it takes, else null: only an exact "0"
    /// turned the warm-up off, so " 0", "off" or "false" left it on without a word.
    /// </summary>
    internal static string? EnvironmentProblem
    {
        get
        {
            string? value = Environment.GetEnvironmentVariable(EnvironmentVariable);
            return ParseSwitch(value) is null ? $"{EnvironmentVariable}='{value}' is not one of 1, 0 (on, off)." : null;
        }
    }

    /// <summary>On or off as a variable gives it (on where unset), null where it is neither.</summary>
    internal static bool? ParseSwitch(string? value) => value?.Trim().ToUpperInvariant() switch
    {
        null or "" or "1" or "ON" or "TRUE" or "YES" => true,
        "0" or "OFF" or "FALSE" or "NO" => false,
        _ => null,
    };

    /// <summary>Starts the warm-up of training steps of <paramref name="model"/>'s shape; the task fails if a step would.</summary>
    /// <param name="model">The model's shape (the copy has one layer of it).</param>
    /// <param name="batch">B of the steps to come.</param>
    /// <param name="seq">T of the steps to come, at most the model's context length.</param>
    /// <param name="options">The trainer's options; null for the defaults.</param>
    /// <param name="maxDegreeOfParallelism">The model's <see cref="GptModel.MaxDegreeOfParallelism"/>; null for its default.</param>
    public static Task Start(GptConfig model, int batch, int seq, TrainerOptions? options = null, int? maxDegreeOfParallelism = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batch);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(seq);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(seq, model.ContextLength);
        GptConfig copy = model with { Layers = 1 };
        return Task.Factory.StartNew(() => Run(copy, batch, seq, options, maxDegreeOfParallelism),
            CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    /// <summary>
    /// A <see cref="TrainingLoop"/>'s warm-up; null where the copy would take over <see cref="MaxBytes"/> or an eighth of
    /// the memory left (a large vocabulary's embedding: there a step is long and its compilation a small share of
    /// it), and for a plan fitted to a time budget, which has already run steps. Its failures are the run's to report.
    /// </summary>
    /// <param name="plan">The run about to start.</param>
    internal static Task? Start(TrainingPlan plan)
    {
        if (plan.TimeBudget is not null || !Enabled
            || GptMemory.TrainingBytes(plan.Model with { Layers = 1 }, plan.Batch, plan.Seq, resuming: false) > Math.Min(MaxBytes, (AvailableOverride.Value ?? GptMemory.AvailableBytes()) / 8))
        {
            return null;
        }

        // The run's own calls report any error (with the run's context); a failed warm-up only leaves them the compilation.
        Task started = Start(plan.Model, plan.Batch, plan.Seq, plan.ToTrainerOptions(), plan.Threads);
        if (WatchOverride.Value is { } watcher)
        {
            started = watcher.Watch(started);
        }

        return started.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Waits for a warm-up that <see cref="TrainingLoop"/> started (null: none), never throwing.</summary>
    internal static void Wait(Task? warmup) => warmup?.GetAwaiter().GetResult();

    /// <summary>A <see cref="Watch"/>'s function, in the struct that <see cref="AsyncOverride{T}"/> holds.</summary>
    internal readonly record struct Watcher(Func<Task, Task> Watch);

    private static void Run(GptConfig config, int batch, int seq, TrainerOptions? options, int? threads)
    {
        var model = new GptModel(config, seed: 1);
        if (threads is { } t)
        {
            model.MaxDegreeOfParallelism = t;
        }

        var trainer = new Trainer(model, options);
        var tokens = new int[batch * seq];
        trainer.Step(tokens, tokens, batch, seq);
        model.Loss(tokens, tokens, batch, seq);
    }
}
