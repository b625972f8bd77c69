using System.Globalization;
using System.Runtime.InteropServices;
using Spectre.Console;
using Spectre.Console.Cli;
using Xent.Cli.Terminal;
using Xent.Distributed;
using Xent.Distributed.Training;
using Xent.Training;
using Xent.Training.Checkpoints;
using Xent.Training.Data;
using Xent.Training.Runs;

namespace Xent.Cli.Commands;

/// <summary>
/// <c>xent train</c>: trains a small GPT with Xent's loss and AdamW on the built-in Markov corpus (or a text
/// file), with a live progress bar, checkpoints, metrics, a loss curve and summary.json.
/// </summary>
internal sealed class TrainCommand : Command<TrainSettings>
{
    private readonly CliConsoles io;

    public TrainCommand(CliConsoles io) => this.io = io;

    public static void Register(IConfigurator config) =>
        config.AddCommand<TrainCommand>("train")
            .WithDescription("Train a small GPT from scratch with Xent's cross-entropy and AdamW (built-in Markov corpus by default, or --text FILE).")
            .WithExample("train")
            .WithExample("train", "--out", "run1", "--steps", "1000")
            .WithExample("train", "--text", "book.txt", "--tokenizer", "bytes", "--out", "run2")
            .WithExample("train", "--resume", "run1", "--steps", "2000")
            .WithExample("train", "--accumulate", "4")
            .WithExample("train", "--vocab-parallel", "--untied");

    public override int Execute(CommandContext context, TrainSettings settings, CancellationToken cancellationToken)
    {
        using var signals = new TrainSignals(io.Error, cancellationToken);
        try
        {
            return Execute(settings, signals);
        }
        catch (Exception e) when (CancelledWhilePrepared(e, signals) is { } stopped)
        {
            // The folder was released as it was found on the way out (Holding).
            io.Error.WriteLine(stopped.Line);
            io.Error.Flush();
            return stopped.ExitCode;
        }
    }

    private int Execute(TrainSettings settings, TrainSignals signals)
    {
        KernelEnvironment.CheckTraining();
        if (settings.Accumulate is null && !settings.VocabParallel && !Communicator.UnderMpirun)
        {
            RunFolderLock? folderLock = LockFolder(settings);
            return Holding(folderLock, signals, () =>
            {
                // Disposed however Train ends: a header that cannot be printed leaves no compile warm-up running.
                using var loop = new TrainingLoop(Plan(settings, 1, io.Error, signals.Token), folderLock: folderLock);
                return Train(loop, signals);
            });
        }

        // Under mpirun -np K (or with --accumulate): every rank trains its slice of each batch; rank 0 writes and prints.
        // Every rank reads the input, and they agree before training: bad input met by any rank (a file missing on
        // one machine) is reported once, by that rank, and every rank ends with exit code 2.
        return DistributedJob.Run(world =>
            {
                RunFolderLock? folderLock = null;
                return Holding(() => folderLock, signals, () =>
                {
                    TrainingPlan plan = DistributedJob.Agree(world, () =>
                    {
                        // Rank 0 writes the run, so it alone locks the folder.
                        folderLock = world.Rank == 0 ? LockFolder(settings) : null;
                        signals.Guard(folderLock);
                        return Plan(settings, world.Size, world.Rank == 0 ? io.Error : null, signals.Token);
                    }, e => CancelledWhilePrepared(e, signals) ?? ErrorReporter.BadInput(e), io.Error);

                    // A --time budget is fitted to each rank's own measured step time: all take rank 0's steps, or they would part.
                    Span<int> steps = [plan.TotalSteps, plan.WarmupSteps];
                    world.Broadcast(steps, 0);
                    plan = plan with { TotalSteps = steps[0], WarmupSteps = steps[1] };
                    using var loop = new TrainingLoop(plan, new DataParallelStep(world, settings.Accumulate ?? 1, settings.VocabParallel), folderLock);
                    return Train(loop, signals, world);
                });
            },
            ExitCodes.InternalError,
            e => CancelledWhilePrepared(e, signals) ?? ErrorReporter.BadInput(e));
    }

    /// <summary>
    /// The exit code and line of a run whose token (the caller's: a signal before training ends the process itself,
    /// <see cref="TrainSignals"/>) was cancelled while the run was prepared, e.g. while steps were timed for --time;
    /// null for any other failure.
    /// </summary>
    private static (int ExitCode, string Line)? CancelledWhilePrepared(Exception e, TrainSignals signals) =>
        e is OperationCanceledException && signals.Token.IsCancellationRequested && !signals.Training
            ? (ExitCodes.Interrupted, "xent: interrupted while the run was prepared; nothing was written.")
            : null;

    private static int Holding(RunFolderLock? folderLock, TrainSignals signals, Func<int> run)
    {
        signals.Guard(folderLock);
        return Holding(() => folderLock, signals, run);
    }

    /// <summary>
    /// Runs <paramref name="run"/> with the run folder locked (the lock taken by it or before it), then releases the
    /// lock. A run that fails or is refused, before or while it trains, leaves the folder as it found it
    /// (<see cref="RunFolderLock.Abandon"/>: the lock file and the folder go when this run created them and nothing
    /// else was written there).
    /// </summary>
    private static int Holding(Func<RunFolderLock?> folderLock, TrainSignals signals, Func<int> run)
    {
        try
        {
            int code = run();
            folderLock()?.Dispose();
            return code;
        }
        catch
        {
            folderLock()?.Abandon();
            throw;
        }
        finally
        {
            signals.Guard(null);
        }
    }

    /// <summary>
    /// Locks the run folder (created if missing) before the plan reads it: a resume then reads a checkpoint no other
    /// run is rewriting, a folder in use is refused before anything else is said (not after a note about a save caught
    /// between its two renames, or the header), and a folder that cannot be created or written is refused before the
    /// data is read. A run refused later releases it as it was found (<see cref="Holding"/>). Null for a --resume
    /// folder that does not exist, which the plan reports as such (no folder is made to find no checkpoint in it).
    /// </summary>
    private static RunFolderLock? LockFolder(TrainSettings settings)
    {
        if (settings.Resume is { } resumed && !Directory.Exists(resumed))
        {
            return null;
        }

        try
        {
            return RunFolderLock.Acquire(settings.OutDir, $"xent train, preparing its run in {Path.GetFullPath(settings.OutDir)}");
        }
        catch (TrainingInputException e)
        {
            throw new XentCliException(e.Message, e);
        }
    }

    /// <param name="settings">The options.</param>
    /// <param name="processes">Processes training together (mpirun -np K), each computing its share of every batch.</param>
    /// <param name="progress">Where to say what takes a while before the header (the process that prints), or null.</param>
    /// <param name="stop">Stops the timing of a --time budget.</param>
    private static TrainingPlan Plan(TrainSettings settings, int processes, TextWriter? progress, CancellationToken stop)
    {
        TrainingPlan plan = TrainPlanning.From(settings, progress, stop);
        if (settings.VocabParallel && plan.Model.TieEmbeddings)
        {
            throw new XentCliException(settings.Resume is { } dir
                ? $"--vocab-parallel splits an untied unembedding across the processes, and the run in '{dir}' has tied embeddings."
                : "--vocab-parallel splits an untied unembedding across the processes, and the --init model's is tied.");
        }

        // A micro-batch holds at least one sequence: more of them than a process's share of the batch would only be
        // empty ones, the same step as --accumulate equal to that share.
        int share = ContiguousSplit.Of(plan.Batch, 0, processes).Count;
        if (settings.Accumulate is { } accumulate && accumulate > share)
        {
            string each = processes == 1 ? "the batch's" : $"each of the {processes} processes' share of the batch,";
            throw new XentCliException(
                $"--accumulate {accumulate} is more micro-batches than {each} {share} sequence(s); a micro-batch holds at least one sequence, so give at most --accumulate {share}.");
        }

        return plan;
    }

    private int Train(TrainingLoop loop, TrainSignals signals, ICommunicator? world = null)
    {
        signals.StartTraining();
        TrainingPlan plan = loop.Plan;
        bool writes = loop.GradientStep.WritesOutputs;
        if (writes)
        {
            if (plan.Resume?.Checkpoint.Note is { } note)
            {
                io.Error.WriteLine($"xent: note: {note}");
            }

            PrintHeader(plan, loop.GradientStep);
        }

        if (!writes)
        {
            // Ranks but 0 print nothing (rank 0 speaks for the job); they stop with it, with its exit code.
            return ExitCode(Agreed(loop.Run(null, signals.Token)).Status, signals);
        }

        TrainingOutcome outcome = Agreed(Run(loop, signals.Token));
        // The records the run holds, as written to metrics.jsonl: the file is not read back (a read failing there would
        // cost the picture of a run that is saved).
        LossPlot.Save(Path.Combine(plan.OutDir, LossPlot.FileName), outcome.Metrics,
            outcome.RunInitialValLoss is { } first ? (0, first) : (outcome.StartStep, outcome.InitialValLoss), plan.Data.EntropyFloor, PlotTitle(plan),
            outcome.CheckpointStep, plan.Baseline);
        return Report(plan, outcome, signals);

        // The ranks stop together (the loop agrees on it); then they agree on which signal stopped them.
        TrainingOutcome Agreed(TrainingOutcome result)
        {
            if (world is not null && result.Status == TrainingStatus.Interrupted)
            {
                signals.AgreeStoppedBy(world);
            }

            return result;
        }
    }

    private TrainingOutcome Run(TrainingLoop loop, CancellationToken stop)
    {
        TrainingPlan plan = loop.Plan;
        if (!io.Out.Profile.Capabilities.Interactive)
        {
            // Logs and pipes get one plain line per evaluation instead of a redrawn bar.
            return loop.Run(new StepLines(r =>
            {
                if (r.Evaluated)
                {
                    try
                    {
                        io.WriteLine(Line(plan, r));
                    }
                    catch (XentCliException e)
                    {
                        // Standard output failed (StandardStreamWriter): say where the run can go on from.
                        throw new XentCliException(
                            $"{e.Message} The run stopped at step {r.Step}, its checkpoint saved in '{plan.OutDir}'. Continue with: xent train --resume {plan.OutDir}", e);
                    }
                }
            }, io.Error), stop);
        }

        TrainingOutcome? outcome = null;
        io.Out.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(Markup.Escape($"step {plan.StartStep}/{plan.TotalSteps}"), maxValue: plan.TotalSteps);
                task.Value = plan.StartStep;
                outcome = loop.Run(new StepLines(r =>
                {
                    // Increment (not Value =) feeds Spectre's speed samples, from which the ETA column is computed.
                    task.Increment(r.Step - task.Value);
                    task.Description = Markup.Escape(Line(plan, r));
                }, io.Error), stop);
                task.StopTask();
            });
        return outcome!;
    }

    /// <summary>Forwards each step's report to the display, and the run's warnings to standard error.</summary>
    private sealed class StepLines(Action<StepReport> show, TextWriter error) : ITrainingProgress
    {
        public void OnStep(StepReport report) => show(report);

        public void OnWarning(string warning)
        {
            error.WriteLine($"xent: warning: {warning}");
            error.Flush();
        }
    }

    private static string Line(TrainingPlan plan, StepReport r) => string.Create(CultureInfo.InvariantCulture,
        $"step {r.Step}/{r.TotalSteps}  loss {r.Loss:0.0000}  val {(r.LastValLoss is { } v ? v.ToString("0.0000", CultureInfo.InvariantCulture) : "-")}{BitsPerByte(plan, r.LastValLoss)}  {r.TokensPerSecond / 1000:0.0}k tok/s");

    // Text only: the unit people compare text models in, beside nats per token.
    private static string BitsPerByte(TrainingPlan plan, double? val) => plan.Data.Chain is null && val is { } v && double.IsFinite(v)
        ? string.Create(CultureInfo.InvariantCulture, $" ({plan.ValidationBitsPerByte(v):0.000} bits/byte)")
        : "";

    private void PrintHeader(TrainingPlan plan, IGradientStep step)
    {
        var d = plan.Data;
        var m = plan.Model;
        double lnV = Math.Log(m.VocabSize);
        if (d.Chain is { } chain)
        {
            io.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Corpus: built-in order-2 Markov chain over V = {chain.SymbolCount} symbols, {d.Train.Length:N0} training and {d.Validation.Length:N0} validation tokens."));
            io.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Entropy floor: {chain.EntropyRate:0.0000} nats/token (ln V = {lnV:0.0000}; best possible on {plan.Seq}-token windows: {chain.WindowFloor(plan.Seq):0.0000})."));
        }
        else
        {
            io.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Corpus: {d.Source} ({TokenizerNames.Name(d.Tokenizer.Kind)} tokens, V = {m.VocabSize}), {d.Train.Length:N0} training and {d.Validation.Length:N0} validation tokens; no known entropy floor (ln V = {lnV:0.0000})."));
            if (d.BpeDropout > 0)
            {
                io.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"BPE-dropout {d.BpeDropout}: training windows are drawn from {d.TrainSamples.Length:N0} tokens, the training text's encoding and {TokenDataset.BpeDropoutSegmentations} encodings that skip each merge with probability {d.BpeDropout}."));
            }
            if (plan.Baseline is { } b)
            {
                io.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"Baseline: a Kneser-Ney {b.Order}-gram model of the training split scores {b.NatsPerToken:0.0000} nats/token ({plan.ValidationBitsPerByte(b.NatsPerToken):0.000} bits/byte) on the validation windows; the network should go below it."));
            }
        }
        string resumed = plan.Resume is { } r ? $", resuming at step {r.Checkpoint.Config.Step}" : plan.Init is not null ? ", fine-tuning the --init weights" : "";
        if (plan.Resume is null && CheckpointStore.Exists(plan.OutDir))
        {
            io.WriteLine($"Note: '{plan.OutDir}' holds a checkpoint of an earlier run; this run replaces it at its first evaluation (use --resume to continue it instead).");
        }

        io.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Model: {m.Layers} layers, D = {m.Dim}, {m.Heads} heads, T = {m.ContextLength}, {(m.TieEmbeddings ? "tied" : "untied")} embeddings{Regularisation(plan)}{TrainSettingText.Optimizer(plan)}; batch {plan.Batch}, {plan.TotalSteps} steps{Budget(plan)}, peak lr {TrainSettingText.Number(plan.LearningRate)}{resumed}. Output: {plan.OutDir}"));
        if (plan.ResumeChanges() is { Count: > 0 } changes)
        {
            io.WriteLine("Changed from the checkpoint's settings: " + string.Join(", ", changes.Select(c =>
                $"{c.Setting} {TrainSettingText.Number(c.Saved)} -> {TrainSettingText.Number(c.Now)}")) + ".");
        }

        if (plan.WarmupOutlastsRun)
        {
            io.Error.WriteLine($"xent: warning: the warm-up ({plan.WarmupSteps} steps) lasts the whole run of {plan.TotalSteps} steps: the learning rate rises to its peak and never decays, so the run ends unannealed. Give a --warmup below the steps, or more --steps.");
        }

        if (step is DataParallelStep dp)
        {
            io.WriteLine($"Data parallel: {dp.WorldSize} process(es), each batch split by sequence, {dp.Accumulate} micro-batch(es) per process; gradients all-reduced every step.");
            if (dp.VocabParallel)
            {
                int fewest = m.VocabSize / dp.WorldSize, most = (m.VocabSize + dp.WorldSize - 1) / dp.WorldSize;
                string rows = fewest == most ? $"{most}" : $"{fewest} or {most}";
                io.WriteLine($"Vocabulary parallel: each process holds {rows} of the {m.VocabSize} rows of the unembedding (and their optimizer state) and computes their part of the loss for every process's tokens.");
            }
        }
    }

    private static string Regularisation(TrainingPlan plan) => plan.Model.Dropout == 0 && plan.WeightDecay == 0
        ? ""
        : $", dropout {TrainSettingText.Number(plan.Model.Dropout)}, weight decay {TrainSettingText.Number(plan.WeightDecay)}";

    private static string Budget(TrainingPlan plan) => plan.TimeBudget is { } t
        ? string.Create(CultureInfo.InvariantCulture, $" (fitted to --time {t.TotalSeconds:0} s)")
        : "";

    private int Report(TrainingPlan plan, TrainingOutcome o, TrainSignals signals)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumn("").AddColumn(new TableColumn("").RightAligned()).HideHeaders();
        string F(double? x) => x is { } v && double.IsFinite(v) ? v.ToString("0.0000", CultureInfo.InvariantCulture) : "-";
        if (plan.Data.EntropyFloor is { } floor)
        {
            table.AddRow("entropy floor (nats/token)", F(floor));
        }

        table.AddRow("initial validation loss", F(o.RunInitialValLoss ?? o.InitialValLoss));
        table.AddRow("final validation loss", F(o.FinalValLoss));
        if (plan.Baseline is { } baseline)
        {
            table.AddRow($"{baseline.Order}-gram baseline", F(baseline.NatsPerToken));
            if (o.FinalValLoss is { } fv && double.IsFinite(fv))
            {
                table.AddRow("bits per byte (network / n-gram)", string.Create(CultureInfo.InvariantCulture,
                    $"{plan.ValidationBitsPerByte(fv):0.000} / {plan.ValidationBitsPerByte(baseline.NatsPerToken):0.000}"));
            }
        }
        if (plan.Data.EntropyFloor is { } f && o.FinalValLoss is { } v && double.IsFinite(v))
        {
            table.AddRow("above the floor", ((v - f) / f).ToString("P1", CultureInfo.InvariantCulture));
        }

        if (o.BestStep is { } bestStep && o.BestValLoss is { } bestLoss)
        {
            table.AddRow("best validation loss (kept in best/)", $"{F(bestLoss)} at step {bestStep}");
        }

        table.AddRow("steps", o.StoppedEarly ? $"{o.FinalStep}/{plan.TotalSteps} (stopped early)" : $"{o.FinalStep}/{plan.TotalSteps}");
        table.AddRow("tokens/s", o.TokensPerSecond.ToString("N0", CultureInfo.InvariantCulture));
        table.AddRow("wall time", $"{o.WallSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s");
        io.Out.Write(table);
        io.Out.WriteLine();

        string dir = plan.OutDir;
        switch (o.Status)
        {
            case TrainingStatus.NonFinite:
                string kept = o.CheckpointStep is { } c
                    ? $"the last good checkpoint (step {c}) is kept in '{dir}'"
                    : plan.Resume is not null
                        ? "the checkpoint it resumed from is unchanged"
                        : "no checkpoint was written";
                io.Error.WriteLine($"xent: error: the training loss became non-finite (NaN or infinity) at step {o.NonFiniteStep}; training stopped and {kept}. Try a lower --lr.");
                io.Error.Flush();
                return ExitCodes.NonFiniteLoss;
            case TrainingStatus.Interrupted:
                string by = signals.StoppedBy is PosixSignal.SIGTERM or PosixSignal.SIGHUP ? $"Stopped by {signals.StoppedBy}" : "Interrupted";
                io.WriteLine($"{by} at step {o.FinalStep}; checkpoint saved in '{dir}'. Continue with: xent train --resume {dir}");
                return ExitCode(o.Status, signals);
            default:
                io.WriteLine($"Wrote {CheckpointStore.ModelFile}, {CheckpointStore.ConfigFile}, {MetricsLog.FileName}, {LossPlot.FileName} and {RunSummary.FileName} to '{dir}'.");
                return ExitCodes.Ok;
        }
    }

    private static int ExitCode(TrainingStatus status, TrainSignals signals) => status switch
    {
        TrainingStatus.NonFinite => ExitCodes.NonFiniteLoss,
        TrainingStatus.Interrupted => signals.StoppedBy switch
        {
            PosixSignal.SIGTERM => ExitCodes.Terminated,
            PosixSignal.SIGHUP => ExitCodes.HungUp,
            _ => ExitCodes.Interrupted,
        },
        _ => ExitCodes.Ok,
    };

    private static string PlotTitle(TrainingPlan plan) => plan.Data.Chain is not null
        ? "xent train: built-in Markov corpus"
        : $"xent train: {Path.GetFileName(plan.Data.Source)}";
}
