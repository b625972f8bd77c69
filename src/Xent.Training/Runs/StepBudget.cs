namespace Xent.Training.Runs;

/// <summary>
/// Fits a run's step count to a wall-clock budget (<c>xent train --time 2m</c>): from the measured time of a training
/// step and of one validation pass with its checkpoint, the most steps whose training, evaluations and checkpoints
/// fit in the budget. The schedule is then planned for that many steps, so the learning rate has annealed when the
/// time is up, on a fast machine or a slow one.
/// </summary>
public static class StepBudget
{
    /// <summary>
    /// The longest budget: a week. Longer is no run this trainer is for (and its step count would pass 2^31 at a
    /// millisecond a step after 25 days); <c>--time 1e15</c> once overflowed .NET's TimeSpan.
    /// </summary>
    public static readonly TimeSpan MaxBudget = TimeSpan.FromDays(7);

    /// <summary>
    /// The most steps S &gt;= 1 with S x step + ceil(S / evalEvery) x evaluation &lt;= budget (at least 1: a budget
    /// shorter than one step still trains one).
    /// </summary>
    /// <param name="budget">Wall-clock time for training, evaluations and checkpoints; &gt; 0.</param>
    /// <param name="step">Measured seconds of one training step; &gt; 0.</param>
    /// <param name="evaluation">Measured seconds of one validation pass plus a checkpoint; &gt;= 0.</param>
    /// <param name="evalEvery">Steps between evaluations; &gt;= 1.</param>
    public static int FitSteps(TimeSpan budget, TimeSpan step, TimeSpan evaluation, int evalEvery)
    {
        if (budget <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(budget), budget, "The time budget must be positive.");
        }

        if (step <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(step), step, "The step time must be positive.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(evaluation, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(evalEvery, 1);

        // Per step, an evaluation's share; the one at the very end is paid whatever the count.
        double perStep = step.TotalSeconds + (evaluation.TotalSeconds / evalEvery);
        double steps = Math.Floor((budget.TotalSeconds - evaluation.TotalSeconds) / perStep);
        return (int)Math.Clamp(steps, 1, int.MaxValue);
    }

    /// <summary>
    /// Parses a duration as people write it: a number with a unit s, m or h ("90s", "2m", "1.5h", "1m30s"), or a
    /// bare number of seconds. Null for anything else, a duration that is not positive, or one longer than
    /// <see cref="MaxBudget"/>.
    /// </summary>
    /// <param name="text">The text, e.g. a command-line value.</param>
    public static TimeSpan? ParseDuration(string? text) =>
        ParseSeconds(text) is { } seconds && seconds <= MaxBudget.TotalSeconds ? TimeSpan.FromSeconds(seconds) : null;

    /// <summary>
    /// The seconds of a duration as <see cref="ParseDuration"/> reads it, however long (a caller can say a duration
    /// is too long rather than not one); null for anything else or a duration that is not positive (shorter than a
    /// TimeSpan's tick, 100 ns, included).
    /// </summary>
    /// <param name="text">The text, e.g. a command-line value.</param>
    public static double? ParseSeconds(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        string s = text.Trim().ToLowerInvariant();
        if (double.TryParse(s, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double bare))
        {
            return Positive(bare);
        }

        double seconds = 0;
        int i = 0;
        while (i < s.Length)
        {
            int start = i;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.'))
            {
                i++;
            }

            if (i == start || i == s.Length
                || !double.TryParse(s.AsSpan(start, i - start), System.Globalization.NumberStyles.Float,
                    System.Globalization.CultureInfo.InvariantCulture, out double value))
            {
                return null;
            }

            double unit = s[i] switch { 's' => 1, 'm' => 60, 'h' => 3600, _ => double.NaN };
            if (double.IsNaN(unit))
            {
                return null;
            }

            seconds += value * unit;
            i++;
        }

        return Positive(seconds);
    }

    // Under a tick (100 ns) a duration is a TimeSpan of 0, which TimeBudgetPlanner refuses as not positive: --time 1e-8
    // passed the command line's check and met that refusal in .NET's words.
    private static double? Positive(double seconds) =>
        seconds > 0 && double.IsFinite(seconds) && (seconds >= 1 || TimeSpan.FromSeconds(seconds) > TimeSpan.Zero) ? seconds : null;
}
