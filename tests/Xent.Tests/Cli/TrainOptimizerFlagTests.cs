namespace Xent.Tests.Cli;

/// <summary>
/// xent train's optimizer flags are read as doubles but AdamW runs in float: a value a float does not hold (1e39 is
/// infinity, 1e-50 is 0) was refused by the library at the first step in its own words (MaxLearningRate), or
/// trained at a learning rate of 0. Refused up front, naming the flag, with exit 2, as --lr -1 and --lr nan are; the
/// value reported is the one given, not the float AdamW would have rounded it to (--weight-decay 1e39 was "Infinity").
/// </summary>
public sealed class TrainOptimizerFlagTests : IDisposable
{
    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    [Theory]
    [InlineData("--lr", "-1", "positive")]
    [InlineData("--lr", "nan", "positive")]
    [InlineData("--lr", "1e39", "--lr is 1E+39; it must be a finite number above 0 that a float holds")]
    [InlineData("--lr", "1e-50", "--lr is 1E-50")]
    [InlineData("--weight-decay", "-1", ">= 0")]
    [InlineData("--weight-decay", "nan", ">= 0")]
    [InlineData("--weight-decay", "1e39", "--weight-decay is 1E+39; it must be a number between 0 and 1000000")]
    [InlineData("--weight-decay", "2e6", "--weight-decay is 2000000")]
    [InlineData("--beta1", "1", "--beta1 must be in [0, 1)")]
    [InlineData("--beta1", "-0.1", "--beta1 must be in [0, 1)")]
    [InlineData("--beta1", "0.99999999999", "--beta1 is 0.99999999999; it must be a number from 0 to below 1 that stays below 1 as a float")]
    [InlineData("--beta2", "nan", "--beta2 must be in [0, 1)")]
    [InlineData("--beta2", "0.99999999999", "--beta2 is 0.99999999999")]
    [InlineData("--eps", "0", "--eps must be a positive number")]
    [InlineData("--eps", "1e-50", "--eps is 1E-50; it must be a finite number above 0 that a float holds")]
    [InlineData("--eps", "1e39", "--eps is 1E+39")]
    [InlineData("--grad-clip", "-1", "--grad-clip must be a number >= 0")]
    [InlineData("--grad-clip", "1e39", "--grad-clip is 1E+39; it must be 0 (no clipping) or a finite number above 0")]
    public void A_value_AdamW_cannot_use_is_refused_naming_the_flag(string flag, string value, string problem)
    {
        string dir = temp["run"];
        CliRun.Run(["train", "--out", dir, .. TrainCommandTests.Tiny, "--steps", "1", flag, value]).AssertBadInput(flag, problem);
        Assert.False(Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any(), "nothing written before the refusal");
    }
}
