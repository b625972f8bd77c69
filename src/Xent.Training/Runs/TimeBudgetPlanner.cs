using System.Diagnostics;
using Xent.Training.Data;
using Xent.Training.Model;

namespace Xent.Training.Runs;

/// <summary>
/// Plans a run for a wall-clock budget (<c>xent train --time 2m</c>): times a few training steps and one validation
/// pass of the plan's model on this machine (on a throwaway copy, after one step for the JIT), then sets the total
/// steps with <see cref="StepBudget.FitSteps"/> so that the cosine schedule ends, annealed, when the time is up.
/// </summary>
public static class TimeBudgetPlanner
{
    /// <summary>Most steps timed: enough to average the noise of a few steps, little against a budget.</summary>
    public const int TimedSteps = 5;

    /// <summary>
    /// The plan with <see cref="TrainingPlan.TotalSteps"/> fitted to <paramref name="budget"/> (less the time spent
    /// measuring) and, unless <paramref name="warmupSteps"/> is given, the default warm-up of that many steps.
    /// A resumed plan gets the steps it already has plus those that fit.
    /// </summary>
    /// <param name="plan">The plan to time (its model shape, batch, data, threads and evaluation interval).</param>
    /// <param name="budget">Wall-clock time for training, evaluations and checkpoints; &gt; 0.</param>
    /// <param name="warmupSteps">Warm-up steps to keep; null for <see cref="TrainingDefaults.Warmup"/> of the fitted total.</param>
    public static TrainingPlan Fit(TrainingPlan plan, TimeSpan budget, int? warmupSteps = null)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (budget <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(budget), budget, "The time budget must be positive.");
        }

        var clock = Stopwatch.StartNew();
        var model = new GptModel(plan.Model, plan.Seed);
        if (plan.Threads is { } threads)
        {
            model.MaxDegreeOfParallelism = threads;
        }

        var trainer = new Trainer(model, plan.ToTrainerOptions());
        var sampler = new BatchSampler(plan.Data.Train, plan.Seq, plan.Seed);
        var tokens = new int[plan.Batch * plan.Seq];
        var targets = new int[tokens.Length];
        sampler.Fill(0, plan.Batch, tokens, targets);
        trainer.Step(tokens, targets, plan.Batch, plan.Seq);

        // Steps until TimedSteps or 2% of the budget, whichever comes first (at least one).
        var timer = Stopwatch.StartNew();
        int timed = 0;
        do
        {
            sampler.Fill(timed + 1, plan.Batch, tokens, targets);
            trainer.Step(tokens, targets, plan.Batch, plan.Seq);
            timed++;
        }
        while (timed < TimedSteps && timer.Elapsed < budget * 0.02);
        TimeSpan step = timer.Elapsed / timed;

        timer.Restart();
        Evaluation.WindowLoss(model, plan.Data.Validation, plan.Seq, plan.Batch, TrainingDefaults.ValidationWindows(plan.Seq));
        TimeSpan evaluation = timer.Elapsed;

        TimeSpan left = budget - clock.Elapsed;
        int steps = left > TimeSpan.Zero ? StepBudget.FitSteps(left, step, evaluation, plan.EvalEvery) : 1;
        int total = (int)Math.Min(int.MaxValue, plan.StartStep + steps);
        return plan with
        {
            TotalSteps = total,
            TimeBudget = budget,
            WarmupSteps = Math.Min(warmupSteps ?? (plan.Resume is null ? TrainingDefaults.Warmup(total) : plan.WarmupSteps), total),
        };
    }
}
