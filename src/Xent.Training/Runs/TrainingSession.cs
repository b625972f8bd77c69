using System.Diagnostics;
using Xent.Training.Checkpoints;
using Xent.Training.Data;
using Xent.Training.Model;

namespace Xent.Training.Runs;

/// <summary>The state of one <see cref="TrainingLoop.Run"/>: the model, its trainer and the counts so far.</summary>
internal sealed class TrainingSession
{
    private readonly Stopwatch wall = Stopwatch.StartNew();
    private readonly TrainingPlan plan;
    private readonly MetricsLog? metrics; // null on a process that does not write (data-parallel ranks but 0)
    private readonly ITrainingProgress? progress;
    private readonly IGradientStep gradientStep;
    private readonly GptModel model;
    private readonly Trainer trainer;
    private readonly BatchSampler sampler;
    private readonly int[] tokens;
    private readonly int[] targets;
    private readonly long start;
    private long step;
    private long? checkpointStep; // saved by this run (the resumed one may live in another folder)
    private double initialVal;
    private double? runInitialVal; // before step 0 of the whole run (a resumed run: from its checkpoint)
    private double? lastVal;
    private double? lastLoss;
    private double trainSeconds;
    private TrainingStatus status = TrainingStatus.Completed;
    private long? nonFiniteStep;
    private readonly EarlyStopping best;
    private bool stoppedEarly;
    private CancellationToken validationStop; // stops a validation in progress (one process only: see Run)
    private bool validationCut; // a validation was stopped before its end: the run ends interrupted
    private readonly bool evaluationMissed; // the resumed checkpoint's step was due an evaluation that a stop cut

    // earlierBest: the step and loss of the best checkpoint in the writer's folder (BestCheckpoint.Read), read by the
    // loop before it wrote anything; null for none, for a fresh run and on the other processes.
    public TrainingSession(TrainingPlan plan, MetricsLog? metrics, ITrainingProgress? progress, IGradientStep gradientStep, (long Step, double ValLoss)? earlierBest)
    {
        this.gradientStep = gradientStep;
        this.plan = plan;
        this.metrics = metrics;
        this.progress = progress;
        model = gradientStep.CreateModel(plan);
        if (plan.Threads is { } threads)
        {
            model.MaxDegreeOfParallelism = threads;
        }
        trainer = new Trainer(model, plan.ToTrainerOptions());
        if (plan.Resume is { } resume)
        {
            ModelCheckpoint.RestoreOptimizer(resume.Checkpoint, model, trainer.Optimizer);
        }
        best = new EarlyStopping(plan.EarlyStop);
        if (plan.Resume is not null)
        {
            // The writer reads its folder's best checkpoint, and counts the evaluations since it in metrics.jsonl (cut
            // back to the checkpoint), so --early-stop's patience goes on where the run was stopped; every process takes
            // its word (they may not share the folder).
            // Its last line, of the checkpoint's step, also says whether that step's evaluation was cut by a stop.
            double[] earlier = gradientStep.WritesOutputs && earlierBest is { } e
                ? [1, e.Step, e.ValLoss, metrics?.Records.Count(r => r.Step > e.Step && r.ValLoss is not null) ?? 0, 0]
                : [0, 0, 0, 0, 0];
            earlier[4] = gradientStep.WritesOutputs && EvaluationCut(plan, metrics) ? 1 : 0;
            gradientStep.FromWriter(earlier);
            if (earlier[0] != 0)
            {
                best.Resume((long)earlier[1], earlier[2], (int)earlier[3]);
            }
            evaluationMissed = earlier[4] != 0;
        }
        start = trainer.Optimizer.StepCount;
        step = start;
        sampler = new BatchSampler(plan.Data.TrainSamples, plan.Seq, plan.Seed);
        tokens = new int[TokensPerStep];
        targets = new int[TokensPerStep];
    }

    private int TokensPerStep => plan.Batch * plan.Seq;

    // A step due an evaluation (this run's interval, or the last of the checkpoint's run) whose line has no loss: a stop
    // cut it (docs/training.md), and the checkpoint holds that step's model unmeasured.
    private static bool EvaluationCut(TrainingPlan plan, MetricsLog? metrics)
    {
        long at = plan.StartStep;
        return metrics?.Records is [.., { ValLoss: null } last] && last.Step == at && at > 0
            && (at % plan.EvalEvery == 0 || at == plan.Resume!.Value.Checkpoint.Config.Training.TotalSteps);
    }

    public TrainingOutcome Run(CancellationToken cancellationToken)
    {
        // One process stops a validation in progress when cancelled (a long one would hold a Ctrl+C back for minutes),
        // and runs no other once cancelled. The ranks of a distributed run finish theirs (a vocabulary-parallel one
        // exchanges activations in it, and a rank leaving it alone would part from the others), then all stop
        // together at the next step boundary (AgreeToStop).
        validationStop = gradientStep.WorldSize == 1 ? cancellationToken : CancellationToken.None;
        double? initial = Validate();
        initialVal = initial ?? double.NaN;
        lastVal = initial;
        runInitialVal = plan.Resume is { } resumed ? resumed.Checkpoint.Config.InitialValLoss
            : initial is { } first && double.IsFinite(first) ? first : null;
        if (initial is { } i && !double.IsFinite(i))
        {
            StopNonFinite(start);
        }
        else if (evaluationMissed && initial is { } measured)
        {
            // The validation of the resumed model is the evaluation the stop cut: it counts as the uninterrupted run's.
            metrics?.SetValidationLoss(start, measured);
            Evaluated(measured);
        }
        else
        {
            // Killed (or stopped) after the checkpoint of the evaluation that spent the patience: the run ends there.
            stoppedEarly = best.ShouldStop;
        }
        while (status == TrainingStatus.Completed && step < plan.TotalSteps && !stoppedEarly)
        {
            if (gradientStep.AgreeToStop(cancellationToken.IsCancellationRequested))
            {
                status = TrainingStatus.Interrupted;
                break;
            }
            TrainOneStep();
        }

        // The last step's validation was stopped: the run did not finish its work.
        if (validationCut && status == TrainingStatus.Completed)
        {
            status = TrainingStatus.Interrupted;
        }
        return Outcome(FinalValidation());
    }

    /// <summary>One optimizer step, then the validation and checkpoint when due, the metrics line and the report.</summary>
    private void TrainOneStep()
    {
        sampler.Fill(step, plan.Batch, tokens, targets);
        long t0 = Stopwatch.GetTimestamp();
        TrainStepResult r = gradientStep.Step(trainer, tokens, targets, plan.Batch, plan.Seq);
        double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        if (!r.Updated)
        {
            StopNonFinite(step + 1);
            return;
        }
        trainSeconds += seconds;
        step++;
        lastLoss = r.Loss;

        double? val = ValidateIfDue();
        if (status != TrainingStatus.Completed)
        {
            return;
        }
        Record(new MetricRecord
        {
            Step = step,
            Loss = r.Loss,
            ValLoss = val,
            LearningRate = r.LearningRate,
            TokensPerSecond = TokensPerStep / Math.Max(seconds, 1e-9),
            GradNorm = r.GradientNorm,
            WorldSize = gradientStep.WorldSize,
            VocabParallel = gradientStep.VocabParallel,
        });
        if (val is { } v)
        {
            Evaluated(v);
        }
        progress?.OnStep(new StepReport(step, plan.TotalSteps, r.Loss, lastVal,
            (step - start) * (double)TokensPerStep / Math.Max(trainSeconds, 1e-9), val is not null));
    }

    /// <summary>The checkpoint of an evaluated step (and best/'s when it is the best), then whether the patience ran out.</summary>
    private void Evaluated(double valLoss)
    {
        Save(best.Record(step, valLoss) ? valLoss : null);
        Span<double> stop = [best.ShouldStop ? 1 : 0];
        gradientStep.FromWriter(stop); // the writer decides for all
        stoppedEarly = stop[0] != 0;
    }

    /// <summary>
    /// Appends the step's line to metrics.jsonl. A line that cannot be written (a full disk) stops the run, as a
    /// checkpoint that cannot be saved does, its message saying which checkpoint the run leaves.
    /// </summary>
    private void Record(MetricRecord record)
    {
        try
        {
            metrics?.Append(record);
        }
        catch (TrainingInputException e)
        {
            throw RunStopped(e);
        }
    }

    // A failed write that stops the run, its message saying which checkpoint the run leaves.
    private TrainingInputException RunStopped(TrainingInputException e)
    {
        string kept = checkpointStep is { } c ? $"its last checkpoint (step {c}) in '{plan.OutDir}' is not affected"
            : plan.Resume is not null ? $"the checkpoint it resumed from (step {start}) is not affected"
            : "it saved no checkpoint before it";
        return CheckpointSaveFailure.Adding(e, $"The run stopped at step {step}: {kept}.");
    }

    /// <summary>The validation loss every <see cref="TrainingPlan.EvalEvery"/> steps and after the last; null between, and when stopped.</summary>
    private double? ValidateIfDue()
    {
        if (step % plan.EvalEvery != 0 && step != plan.TotalSteps)
        {
            return null;
        }
        if (Validate() is not { } val)
        {
            return null;
        }
        if (!double.IsFinite(val))
        {
            StopNonFinite(step);
            return null;
        }
        lastVal = val;
        return val;
    }

    /// <summary>
    /// The final validation loss; an interrupted run (or one without steps) is measured and saved here. A stopped
    /// process saves its last step unmeasured (null): its loss was finite, so the model is.
    /// </summary>
    private double? FinalValidation()
    {
        if (status == TrainingStatus.NonFinite)
        {
            return null;
        }
        if (checkpointStep == step)
        {
            return lastVal;
        }
        double? finalVal = Validate();
        if ((finalVal is not { } v || double.IsFinite(v)) && checkpointStep != step)
        {
            Save();
        }
        return finalVal;
    }

    private TrainingOutcome Outcome(double? finalVal) => new()
    {
        Status = status,
        StartStep = start,
        FinalStep = step,
        InitialValLoss = initialVal,
        RunInitialValLoss = runInitialVal,
        FinalValLoss = finalVal,
        FinalTrainLoss = lastLoss,
        TokensPerSecond = step > start ? (step - start) * (double)TokensPerStep / trainSeconds : 0,
        TrainSeconds = trainSeconds,
        WallSeconds = wall.Elapsed.TotalSeconds,
        NonFiniteStep = nonFiniteStep,
        CheckpointStep = checkpointStep,
        BestStep = best.BestStep >= 0 ? best.BestStep : null,
        BestValLoss = best.BestStep >= 0 ? best.BestLoss : null,
        StoppedEarly = stoppedEarly,
        ParameterCount = model.ParameterCount,
        WorldSize = gradientStep.WorldSize,
        VocabParallel = gradientStep.VocabParallel,
    };

    private void StopNonFinite(long atStep)
    {
        status = TrainingStatus.NonFinite;
        nonFiniteStep = atStep;
    }

    /// <summary>The validation loss; null when <see cref="validationStop"/> stopped it (or was cancelled before it).</summary>
    private double? Validate()
    {
        try
        {
            return Evaluation.WindowLoss(model, plan.Data.Validation, plan.Seq, plan.Batch, TrainingDefaults.ValidationWindows(plan.Seq), validationStop);
        }
        catch (OperationCanceledException) when (validationStop.IsCancellationRequested)
        {
            validationCut = true;
            return null;
        }
    }

    // Only the writing process saves (data-parallel ranks but 0 write nothing); every rank then meets at AfterSave.
    private void Save(double? newBest = null)
    {
        if (gradientStep.CheckpointState(trainer) is { } state && gradientStep.WritesOutputs)
        {
            // The save would create the folder again, and the run end 'Wrote metrics.jsonl' with its records written
            // into the removed file: a run folder removed during the run is a failed save, as docs/training.md says.
            if (!Directory.Exists(plan.OutDir))
            {
                throw new TrainingInputException(
                    $"cannot write '{Path.Combine(plan.OutDir, CheckpointStore.ModelFile)}', saving the checkpoint of step {step}: the run folder '{plan.OutDir}' was removed during the run, with its {MetricsLog.FileName} and lock. Nothing was written.");
            }

            // The checkpoint's files reach the disk before it counts as saved: the metrics through its step go first, so a
            // power loss never leaves a checkpoint ahead of its metrics.jsonl.
            try
            {
                metrics?.FlushToDisk(step);
            }
            catch (TrainingInputException e)
            {
                throw RunStopped(e);
            }

            ModelCheckpoint.Save(plan.OutDir, plan.ToCheckpointConfig(step, trainer.Options) with { InitialValLoss = runInitialVal }, state);
            if (newBest is { } loss)
            {
                BestCheckpoint.Save(plan.OutDir, plan.ToCheckpointConfig(step, trainer.Options), state, loss);
            }
        }
        gradientStep.AfterSave();
        checkpointStep = step;
    }
}
