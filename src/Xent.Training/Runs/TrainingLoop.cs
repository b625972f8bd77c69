using Xent.Training.Checkpoints;
using Xent.Training.Data;

namespace Xent.Training.Runs;

/// <summary>
/// Trains a model as a <see cref="TrainingPlan"/> says, without any user interface: seeded batches,
/// <see cref="Trainer"/> steps, the validation loss and a checkpoint every <see cref="TrainingPlan.EvalEvery"/>
/// steps and at the end, <see cref="MetricsLog.FileName"/> line by line and <see cref="RunSummary.FileName"/> when
/// it ends. A cancellation ends it after the current step with a checkpoint; a non-finite loss ends it at once,
/// keeping the last good checkpoint. Disposing it waits for its compile warm-up where <see cref="Run"/> did not (a caller
/// that stops before the run, e.g. on a failed write of its own, leaves no work running behind it).
/// </summary>
public sealed class TrainingLoop : IDisposable
{
    private readonly RunFolderLock? folderLock;
    private readonly Task? warmup;

    /// <summary>
    /// Prepares a run of <paramref name="plan"/> (nothing is read or written before <see cref="Run"/>), and starts
    /// compiling its kernels on another thread (<see cref="CompileWarmup"/>), which <see cref="Run"/> waits for.
    /// </summary>
    /// <param name="plan">What to train, how, and where to write.</param>
    /// <param name="gradientStep">How each step is computed and whether this process writes; null for one process.</param>
    /// <param name="folderLock">
    /// The lock of <see cref="TrainingPlan.OutDir"/> when the caller took it before reading the folder's checkpoint
    /// (so no other run rewrites it meanwhile, and a folder in use is refused before anything else is said); the
    /// caller releases it. Null: <see cref="Run"/> takes it and releases it.
    /// </param>
    public TrainingLoop(TrainingPlan plan, IGradientStep? gradientStep = null, RunFolderLock? folderLock = null)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (folderLock is not null && !SameFolder(folderLock.Directory, plan.OutDir))
        {
            throw new ArgumentException($"The lock is on '{folderLock.Directory}', but the run writes into '{plan.OutDir}'.", nameof(folderLock));
        }

        Plan = plan;
        GradientStep = gradientStep ?? LocalGradientStep.Instance;
        this.folderLock = folderLock;
        warmup = CompileWarmup.Start(plan);
    }

    /// <summary>The plan.</summary>
    public TrainingPlan Plan { get; }

    /// <summary>How each step is computed (<see cref="LocalGradientStep"/> for one process).</summary>
    public IGradientStep GradientStep { get; }

    /// <summary>Whether the constructor started a compile warm-up (<see cref="CompileWarmup.Start(TrainingPlan)"/>).</summary>
    internal bool WarmsUp => warmup is not null;

    /// <summary>
    /// Trains, writing the checkpoint, metrics.jsonl and summary.json into <see cref="TrainingPlan.OutDir"/>
    /// (created if missing; metrics of a resumed run past its checkpoint are dropped). The plan is checked by
    /// <see cref="RunConfigValidator"/> first, and the folder is locked (<see cref="RunFolderLock"/>) for the run:
    /// a second run into it gets <see cref="RunFolderInUseException"/>. A plan resumed from the folder's own checkpoint
    /// gets <see cref="Data.TrainingInputException"/>, with nothing written, when another run saved into the folder
    /// after the checkpoint was loaded, or when a resumed plan's folder holds a damaged best/best.json (<see cref="BestCheckpoint.ReadForResume"/>).
    /// A plan resumed from the checkpoint of another folder starts its own as a copy of that run up to the checkpoint,
    /// and is refused when its folder holds a run's files, but for what the same resume left there when stopped before its
    /// first checkpoint, which is copied again (<see cref="ResumeIntoOtherFolder"/>).
    /// </summary>
    /// <param name="progress">Told of each step; null for none.</param>
    /// <param name="cancellationToken">
    /// Stops the run after the current step (status <see cref="TrainingStatus.Interrupted"/>, with a checkpoint). One
    /// process also stops a validation in progress and measures no other (the checkpoint is saved unmeasured); the
    /// ranks of a distributed run finish the one in progress.
    /// </param>
    /// <returns>What the run did, as written to summary.json.</returns>
    public TrainingOutcome Run(ITrainingProgress? progress = null, CancellationToken cancellationToken = default)
    {
        // Before anything that may refuse the run (so no warm-up is left behind it) or share the cores with it.
        CompileWarmup.Wait(warmup);

        // Ranges and memory before the model is allocated (a resumed model is already in memory: not counted twice).
        RunConfigValidator.CheckTraining(Plan.ToCheckpointConfig(Plan.StartStep),
            RunConfigValidator.InFile(Path.Combine(Plan.OutDir, CheckpointStore.ConfigFile)), resuming: false);

        if (!GradientStep.WritesOutputs)
        {
            // A data-parallel rank other than 0 trains in step with the others and touches no file.
            return new TrainingSession(Plan, null, progress, GradientStep, earlierBest: null).Run(cancellationToken);
        }

        // One run per folder for the whole run: the OS drops the lock however the process ends.
        string command = $"training {Plan.TotalSteps} steps into {Path.GetFullPath(Plan.OutDir)}";
        using var ownLock = folderLock is null ? RunFolderLock.Acquire(Plan.OutDir, command) : null;
        folderLock?.Describe(command);

        // Resumed from this folder's checkpoint: it must still be the one loaded (without the caller's lock, another run
        // may have saved into the folder between the load and the lock), or this run would rewind that one's later steps.
        if (Plan.Resume?.Checkpoint.Origin is { } origin && SameFolder(origin.Directory, Plan.OutDir))
        {
            CheckpointStore.ThrowIfReplaced(origin, Shown(origin));
        }

        // A folder where the run saves a file fails that save only, after the steps it would have kept.
        foreach (string file in new[] { CheckpointStore.ModelFile, CheckpointStore.ConfigFile, RunSummary.FileName })
        {
            string path = Path.Combine(Plan.OutDir, file);
            if (Directory.Exists(path))
            {
                throw new TrainingInputException($"'{path}' is a folder, where the run saves its {file}: move the folder away or give the run another one. Nothing was written.");
            }
        }

        // A resume goes on from the run's best checkpoint so far: its note is read (a damaged one refused, one a kill
        // left behind the checkpoint corrected) before anything is written, metrics.jsonl cut back included. Resumed
        // into another folder, the run's best/ and metrics.jsonl are copied there from the checkpoint's folder.
        var (earlierBest, log) = ResumeIntoOtherFolder.Source(Plan) is { } from
            ? ResumeIntoOtherFolder.Start(from, Plan.OutDir, Plan.StartStep)
            : (Plan.Resume is not null ? BestCheckpoint.ReadForResume(Plan.OutDir) : null, MetricsLog.Open(Plan.OutDir, Plan.StartStep));
        TrainingOutcome outcome;
        using (var metrics = log)
        {
            if (metrics.Warning is { } warning)
            {
                progress?.OnWarning(warning);
            }

            outcome = new TrainingSession(Plan, metrics, progress, GradientStep, earlierBest).Run(cancellationToken) with { Metrics = metrics.Records };
        }
        RunSummary.Write(Plan.OutDir, RunSummary.Build(Plan, outcome));
        return outcome;
    }

    /// <summary>
    /// Waits for the compile warm-up the constructor started, where <see cref="Run"/> did not already (it waits first
    /// thing): a loop given up before its run leaves no work running on another thread. Never throws.
    /// </summary>
    public void Dispose() => CompileWarmup.Wait(warmup);

    /// <summary>
    /// The folder a checkpoint was loaded from, for messages: as the caller named it (relative, say), as `train` shows
    /// --out; in full only where the current folder changed since, so that the name no longer leads there.
    /// </summary>
    internal static string Shown(CheckpointOrigin origin) => SameFolder(origin.Given, origin.Directory) ? origin.Given : origin.Directory;

    internal static bool SameFolder(string a, string b) => string.Equals(
        Path.TrimEndingDirectorySeparator(Path.GetFullPath(a)), Path.TrimEndingDirectorySeparator(Path.GetFullPath(b)),
        OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal);
}
