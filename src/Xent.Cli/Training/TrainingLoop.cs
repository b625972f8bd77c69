using System.Diagnostics;
using Xent.Cli.Commands;
using Xent.Optim;
using Xent.Training;
using Xent.Training.Checkpoints;
using Xent.Training.Data;

namespace Xent.Cli.Training;

/// <summary>How a run ended.</summary>
internal enum TrainingStatus
{
    Completed,
    Interrupted,
    NonFinite,
}

/// <summary>The live state shown by the progress display after each step.</summary>
internal sealed record StepReport(long Step, long TotalSteps, double Loss, double? LastValLoss, double TokensPerSecond, bool Evaluated);

/// <summary>What a run did (summary.json is written from it).</summary>
internal sealed record TrainingOutcome
{
    public required TrainingStatus Status { get; init; }
    public required long StartStep { get; init; }
    public required long FinalStep { get; init; }
    public required double InitialValLoss { get; init; }
    public double? FinalValLoss { get; init; }
    public double? FinalTrainLoss { get; init; }
    public required double TokensPerSecond { get; init; }
    public required double TrainSeconds { get; init; }
    public required double WallSeconds { get; init; }
    public long? NonFiniteStep { get; init; }
    public long? CheckpointStep { get; init; }
    public required long ParameterCount { get; init; }
}

/// <summary>
/// The training loop: seeded batches, <see cref="Trainer"/> steps, validation loss and a checkpoint every
/// <see cref="TrainingPlan.EvalEvery"/> steps and at the end, metrics per step. A stop request ends it after
/// the current step with a checkpoint; a non-finite loss ends it at once, keeping the last good checkpoint.
/// </summary>
internal sealed class TrainingLoop
{
    private readonly TrainingPlan _plan;
    private readonly Func<bool> _stopRequested;

    public TrainingLoop(TrainingPlan plan, Func<bool> stopRequested)
    {
        _plan = plan;
        _stopRequested = stopRequested;
    }

    public TrainingOutcome Run(MetricsLog metrics, Action<StepReport> onStep)
    {
        var wall = Stopwatch.StartNew();
        TrainingPlan p = _plan;
        GptModel model = p.Resume?.Model ?? new GptModel(p.Model, p.Seed);
        if (p.Threads is { } threads)
            model.MaxDegreeOfParallelism = threads;
        var trainer = new Trainer(model, new TrainerOptions
        {
            Optimizer = new AdamWOptions { WeightDecay = (float)TrainDefaults.WeightDecay },
            Schedule = new CosineSchedule
            {
                WarmupSteps = p.WarmupSteps,
                TotalSteps = p.TotalSteps,
                MaxLearningRate = (float)p.LearningRate,
                MinLearningRate = (float)p.MinLearningRate,
            },
            MaxGradientNorm = (float)TrainDefaults.GradClip,
        });
        if (p.Resume is { } resume)
            ModelCheckpoint.RestoreOptimizer(resume.Checkpoint, model, trainer.Optimizer);

        long start = trainer.Optimizer.StepCount;
        long? checkpointStep = null; // saved by this run (the resumed one may live in another folder)
        var sampler = new BatchSampler(p.Data.Train, p.Seq, p.Seed);
        int n = p.Batch * p.Seq;
        var tokens = new int[n];
        var targets = new int[n];

        double initialVal = Validate(model);
        double? lastVal = initialVal;
        double? lastLoss = null;
        double trainSeconds = 0;
        long step = start;
        TrainingStatus status = TrainingStatus.Completed;
        long? nonFiniteStep = null;

        if (!double.IsFinite(initialVal))
        {
            status = TrainingStatus.NonFinite;
            nonFiniteStep = start;
        }

        while (status == TrainingStatus.Completed && step < p.TotalSteps)
        {
            if (_stopRequested())
            {
                status = TrainingStatus.Interrupted;
                break;
            }
            sampler.Fill(step, p.Batch, tokens, targets);
            long t0 = Stopwatch.GetTimestamp();
            TrainStepResult r = trainer.Step(tokens, targets, p.Batch, p.Seq);
            double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            if (!r.Updated)
            {
                status = TrainingStatus.NonFinite;
                nonFiniteStep = step + 1;
                break;
            }
            trainSeconds += seconds;
            step++;
            lastLoss = r.Loss;

            double? val = null;
            if (step % p.EvalEvery == 0 || step == p.TotalSteps)
            {
                val = Validate(model);
                if (!double.IsFinite(val.Value))
                {
                    status = TrainingStatus.NonFinite;
                    nonFiniteStep = step;
                    break;
                }
                lastVal = val;
            }
            metrics.Append(new MetricRecord
            {
                Step = step,
                Loss = r.Loss,
                ValLoss = val,
                LearningRate = r.LearningRate,
                TokensPerSecond = n / Math.Max(seconds, 1e-9),
                GradNorm = r.GradientNorm,
            });
            if (val is not null)
            {
                Save(model, trainer, step);
                checkpointStep = step;
            }
            onStep(new StepReport(step, p.TotalSteps, r.Loss, lastVal, (step - start) * (double)n / Math.Max(trainSeconds, 1e-9), val is not null));
        }

        double? finalVal = null;
        if (status != TrainingStatus.NonFinite)
        {
            if (checkpointStep != step || step == start)
            {
                // Interrupted between evaluations (or no step at all): measure and keep this state too.
                finalVal = Validate(model);
                if (double.IsFinite(finalVal.Value) && checkpointStep != step)
                {
                    Save(model, trainer, step);
                    checkpointStep = step;
                }
            }
            else
            {
                finalVal = lastVal;
            }
        }

        return new TrainingOutcome
        {
            Status = status,
            StartStep = start,
            FinalStep = step,
            InitialValLoss = initialVal,
            FinalValLoss = finalVal,
            FinalTrainLoss = lastLoss,
            TokensPerSecond = step > start ? (step - start) * (double)n / trainSeconds : 0,
            TrainSeconds = trainSeconds,
            WallSeconds = wall.Elapsed.TotalSeconds,
            NonFiniteStep = nonFiniteStep,
            CheckpointStep = checkpointStep,
            ParameterCount = model.ParameterCount,
        };
    }

    private double Validate(GptModel model) =>
        Evaluation.WindowLoss(model, _plan.Data.Validation, _plan.Seq, _plan.Batch, TrainDefaults.ValidationWindows(_plan.Seq));

    private void Save(GptModel model, Trainer trainer, long step) =>
        ModelCheckpoint.Save(_plan.OutDir, _plan.ToCheckpointConfig(step), model, trainer.Optimizer);
}
