using Xent.Training.Runs;

namespace Xent.Tests.Runs;

public class StepBudgetTests
{
    [Fact]
    public void Steps_and_their_evaluations_fill_the_budget()
    {
        // 120 s, 50 ms a step, 1 s per evaluation every 100 steps: (120 - 1) / (0.05 + 0.01) = 1983.3 -> 1983 steps,
        // whose 20 evaluations take 20 s and the 1983 steps 99.15 s: 119.15 s <= 120.
        int steps = StepBudget.FitSteps(TimeSpan.FromSeconds(120), TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(1), 100);
        Assert.Equal(1983, steps);
        double used = (steps * 0.05) + Math.Ceiling(steps / 100.0);
        Assert.InRange(used, 118, 120);
        Assert.Equal(1, StepBudget.FitSteps(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5), TimeSpan.Zero, 10));
        Assert.Equal(1200, StepBudget.FitSteps(TimeSpan.FromMinutes(2), TimeSpan.FromMilliseconds(100), TimeSpan.Zero, 10));
    }

    [Fact]
    public void Bad_budgets_are_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => StepBudget.FitSteps(TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.Zero, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => StepBudget.FitSteps(TimeSpan.FromSeconds(1), TimeSpan.Zero, TimeSpan.Zero, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => StepBudget.FitSteps(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), TimeSpan.Zero, 0));
    }

    [Theory]
    [InlineData("2m", 120)]
    [InlineData("90s", 90)]
    [InlineData("1.5h", 5400)]
    [InlineData("1m30s", 90)]
    [InlineData(" 45 ", 45)]
    [InlineData("2M", 120)]
    public void Durations_parse_as_people_write_them(string text, double seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), StepBudget.ParseDuration(text));

    [Theory]
    [InlineData("")]
    [InlineData("m")]
    [InlineData("2x")]
    [InlineData("2m3")]
    [InlineData("0s")]
    [InlineData("-5")]
    [InlineData("1e400")]
    [InlineData("..s")]
    [InlineData("1e-8")]
    [InlineData("1e-300")]
    [InlineData(null)]
    public void Anything_else_is_not_a_duration(string? text) => Assert.Null(StepBudget.ParseDuration(text));

    [Fact]
    public void Early_stopping_counts_evaluations_without_improvement()
    {
        var e = new EarlyStopping(2);
        Assert.True(e.Record(100, 2.0));
        Assert.False(e.Record(200, 2.0));
        Assert.False(e.ShouldStop);
        Assert.True(e.Record(300, 1.5));
        Assert.False(e.Record(400, 1.6));
        Assert.False(e.Record(500, double.NaN));
        Assert.True(e.ShouldStop);
        Assert.Equal((1.5, 300L), (e.BestLoss, e.BestStep));

        var never = new EarlyStopping(0);
        never.Record(1, 1);
        for (int i = 0; i < 10; i++)
        {
            never.Record(i + 2, 2);
        }

        Assert.False(never.ShouldStop);
        Assert.Throws<ArgumentOutOfRangeException>(() => new EarlyStopping(-1));
    }
}
