namespace Xent.Tests.Cli;

/// <summary>
/// A number option's value that is not one says which kind of number it must be. Options that may be left out
/// (<c>--lr</c>, a double?) were named by Spectre as Nullable`1, which xent took for an integer: <c>--lr 0,001</c>
/// (a decimal comma, as de-DE writes it) said it was not an integer.
/// </summary>
public sealed class OptionNumberTests
{
    public static TheoryData<string[], string> Values => new()
    {
        { ["train", "--lr", "0,001"], "Failed to convert '0,001' to a number." },
        { ["train", "--dropout", "x"], "Failed to convert 'x' to a number." },
        { ["train", "--weight-decay", "1e"], "Failed to convert '1e' to a number." },
        { ["train", "--bpe-dropout", "0,1"], "Failed to convert '0,1' to a number." },
        { ["train", "--steps", "1.5"], "Failed to convert '1.5' to an integer." },
        { ["eval", "--window", "x"], "Failed to convert 'x' to an integer." },
        { ["explain", "--row", "x"], "Failed to convert 'x' to an integer." },
        { ["sample", "--temperature", "0,8"], "Failed to convert '0,8' to a number." },
        { ["bench", "--rows", "x"], "Failed to convert 'x' to an integer." },
    };

    [Theory]
    [MemberData(nameof(Values))]
    public void SaysWhichKindOfNumber(string[] args, string message)
    {
        var run = CliRun.Run(args);
        Assert.Equal((2, $"xent: error: {message}"), (run.ExitCode, run.Error.Trim()));
    }
}
