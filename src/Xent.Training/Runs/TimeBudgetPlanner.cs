using System.Diagnostics;
using Xent.Training.Data;
using Xent.Training.Model;

namespace Xent.Training.Runs;

/// <summary>
/// Plans a run for a wall-clock budget (<c>xent train --time 2m</c>): times a few training steps and one validation
/// pass of the plan's model on this machine (on a throwaway copy, after a warm-up for the JIT), then sets the total
/// steps with <see cref="StepBudget.FitSteps"/> so that the cosine schedule ends, annealed, when the time is up.
/// </summary>
public static class TimeBudgetPlanner
{
    /// <summary>Fewest steps timed, after the warm-up: enough to average the noise of single steps.</summary>
    public const int TimedSteps = 5;

    /// <summary>
    /// Share of the budget (at most <see cref="MaxWarmupSeconds"/>) spent on untimed steps first: the JIT compiles
    /// the hot loops fully optimised only after they have run a while. Timed from the second step, a default text
    /// run was planned for 1.7x its actual step time and ended after 87 s of its 150.
    /// </summary>
    public const double WarmupShare = 0.02;

    /// <summary>Longest warm-up, in seconds.</summary>
    public const double MaxWarmupSeconds = 3;

    /// <summary>
    /// Share of the budget (at most <see cref="MaxTimedSeconds"/>) spent on timed steps (at least
    /// <see cref="TimedSteps"/> of them).
    /// </summary>
    public const double TimedShare = 0.02;

    /// <summary>
    /// Longest timing, in seconds: a few seconds of steps measure a step well (the default 2m30s spends 3); without
    /// a cap, <c>--time 1h</c> spent 72 s timing before its first line of output, and a week would spend hours.
    /// </summary>
    public const double MaxTimedSeconds = 5;

    /// <summary>
    /// About how long <see cref="Fit"/> runs steps for <paramref name="budget"/> before it times the validation pass
    /// (at least <see cref="TimedSteps"/> steps after the first: longer when a step is slow), for a message.
    /// </summary>
    /// <param name="budget">The wall-clock budget.</param>
    public static TimeSpan MeasuringTime(TimeSpan budget) => WarmupTime(budget) + TimedTime(budget);

    private static TimeSpan WarmupTime(TimeSpan budget) => TimeSpan.FromSeconds(Math.Min(MaxWarmupSeconds, budget.TotalSeconds * WarmupShare));

    private static TimeSpan TimedTime(TimeSpan budget) => TimeSpan.FromSeconds(Math.Min(MaxTimedSeconds, budget.TotalSeconds * TimedShare));

    /// <summary>
    /// The plan with <see cref="TrainingPlan.TotalSteps"/> fitted to <paramref name="budget"/> (less the time spent
    /// measuring) and, unless <paramref name="warmupSteps"/> is given, the default warm-up of that many steps.
    /// A resumed plan gets the steps it already has plus those that fit.
    /// </summary>
    /// <param name="plan">The plan to time (its model shape, batch, data, threads and evaluation interval).</param>
    /// <param name="budget">Wall-clock time for training, evaluations and checkpoints; &gt; 0, at most <see cref="StepBudget.MaxBudget"/>.</param>
    /// <param name="warmupSteps">Warm-up steps to keep; null for <see cref="TrainingDefaults.Warmup"/> of the fitted total.</param>
    /// <param name="cancellationToken">Checked before each timed step and validation batch: the timing stops within one of them.</param>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled; nothing was written.</exception>
    public static TrainingPlan Fit(TrainingPlan plan, TimeSpan budget, int? warmupSteps = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (budget <= TimeSpan.Zero || budget > StepBudget.MaxBudget)
        {
            throw new ArgumentOutOfRangeException(nameof(budget), budget, $"The time budget must be positive and at most {StepBudget.MaxBudget}.");
        }

        var clock = Stopwatch.StartNew();
        var model = new GptModel(plan.Model, plan.Seed);
        if (plan.Threads is { } threads)
        {
            model.MaxDegreeOfParallelism = threads;
        }

        var trainer = new Trainer(model, plan.ToTrainerOptions());
        var sampler = new BatchSampler(plan.Data.TrainSamples, plan.Seq, plan.Seed);
        var tokens = new int[plan.Batch * plan.Seq];
        var targets = new int[tokens.Length];
        int done = 0;
        var timer = Stopwatch.StartNew();
        TimeSpan warmup = WarmupTime(budget);
        do
        {
            Step();
        }
        while (timer.Elapsed < warmup);

        timer.Restart();
        int timed = 0;
        do
        {
            Step();
            timed++;
        }
        while (timed < TimedSteps || timer.Elapsed < TimedTime(budget));
        TimeSpan step = timer.Elapsed / timed;

        timer.Restart();
        Evaluation.WindowLoss(model, plan.Data.Validation, plan.Seq, plan.Batch, TrainingDefaults.ValidationWindows(plan.Seq), cancellationToken);
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

        void Step()
        {
            cancellationToken.ThrowIfCancellationRequested();
            sampler.Fill(done++, plan.Batch, tokens, targets);
            trainer.Step(tokens, targets, plan.Batch, plan.Seq);
        }
    }
}
