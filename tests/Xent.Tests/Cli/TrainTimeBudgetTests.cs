using Xent.Training.Runs;

namespace Xent.Tests.Cli;

/// <summary>
/// `xent train --time`: at most a week (a longer one once overflowed .NET's TimeSpan, or ran for hours before its
/// first line), a few seconds of timed steps whatever the budget, announced before they run, and stopped by the
/// run's token.
/// </summary>
public sealed class TrainTimeBudgetTests : IDisposable
{
    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    [Theory]
    [InlineData("1e15")]
    [InlineData("999999h")]
    [InlineData("1e10")]
    [InlineData("169h")]
    public void A_budget_over_a_week_is_refused_with_the_longest_one(string time)
    {
        var run = CliRun.Run("train", "--text", temp["t.txt"], "--time", time, "--out", temp["run"]);
        run.AssertBadInput($"--time {time}", "is longer than the longest budget, 168h");
        Assert.False(Directory.Exists(temp["run"]));
    }

    [Theory]
    [InlineData("1e-8")]
    [InlineData("1e-300")]
    [InlineData("0.00000001s")]
    public void A_budget_under_a_tick_is_refused_as_not_positive(string time)
    {
        // It passed as positive, became a TimeSpan of 0 and reached the planner: "The time budget must be positive
        // and at most 7.00:00:00. (Parameter 'budget') Actual value was 00:00:00."
        var run = CliRun.Run("train", "--text", temp["t.txt"], "--time", time, "--out", temp["run"]);
        run.AssertBadInput($"'{time}'", "--time must be a positive duration");
        Assert.False(Directory.Exists(temp["run"]));
    }

    [Fact]
    public void Durations_up_to_a_week_parse_and_longer_ones_are_told_apart_from_bad_ones()
    {
        Assert.Equal(TimeSpan.FromDays(7), StepBudget.ParseDuration("168h"));
        Assert.Null(StepBudget.ParseDuration("1e15"));
        Assert.Equal(1e15, StepBudget.ParseSeconds("1e15"));
        Assert.Equal(3600 * 999999.0, StepBudget.ParseSeconds("999999h"));
        Assert.Null(StepBudget.ParseSeconds("1e400"));
        Assert.Null(StepBudget.ParseSeconds("2x"));
    }

    [Fact]
    public void Timing_the_steps_takes_a_few_seconds_whatever_the_budget()
    {
        Assert.Equal(TimeSpan.FromSeconds(6), TimeBudgetPlanner.MeasuringTime(TimeSpan.FromSeconds(150)));
        Assert.True(TimeBudgetPlanner.MeasuringTime(TimeSpan.FromHours(1)) <= TimeSpan.FromSeconds(8));
        Assert.True(TimeBudgetPlanner.MeasuringTime(StepBudget.MaxBudget) <= TimeSpan.FromSeconds(8));
        Assert.Equal(TimeSpan.FromSeconds(0.08), TimeBudgetPlanner.MeasuringTime(TimeSpan.FromSeconds(2)));
    }

    [Fact]
    public void A_time_budget_run_says_it_times_steps_before_it_does()
    {
        File.WriteAllText(temp["t.txt"], string.Concat(Enumerable.Repeat("the quick brown fox jumps over the lazy dog. ", 40)));
        var run = CliRun.Run(["train", "--text", temp["t.txt"], "--time", "2s", "--out", temp["run"], .. TrainCommandTests.Tiny]);
        Assert.True(run.ExitCode == 0, run.Error + run.Out);
        Assert.Contains("xent train: timing steps of this model for about 0.1 s, to fit the run to 2 s (--time)", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_run_cancelled_while_its_steps_are_timed_stops_there_and_leaves_no_folder()
    {
        // Cancelled from the start: the timing of an hour's budget is its first cancellable work, and it must stop
        // there (not time its 8 s and then train one step and save).
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        var run = CliRun.Run(cancelled.Token, ["train", "--time", "1h", "--out", temp["run"], .. TrainCommandTests.Tiny]);
        Assert.True(run.ExitCode == 130, $"exit code {run.ExitCode}: {run.Error}");
        Assert.Contains("xent train: timing steps of this model", run.Error, StringComparison.Ordinal);
        Assert.EndsWith("xent: interrupted while the run was prepared; nothing was written.", run.Error.TrimEnd(), StringComparison.Ordinal);
        Assert.False(Directory.Exists(temp["run"]));
    }
}
