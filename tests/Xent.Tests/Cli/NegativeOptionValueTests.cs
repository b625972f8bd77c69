using Xent.Cli.Terminal;

namespace Xent.Tests.Cli;

/// <summary>
/// A value that starts with '-' and a letter or a dot (-Infinity, -.5) is the value of the option before it, as
/// docs/cli.md writes it, not a short option (Spectre's reading, which refused it).
/// </summary>
public sealed class NegativeOptionValueTests
{
    [Fact]
    public void MinusInfinityIsALogitAsTheDocsSay()
    {
        var run = CliRun.Run("explain", "--logits", "-Infinity,1", "--target", "0");
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Contains("loss = inf", run.Out, StringComparison.Ordinal);
        Assert.Equal(CliRun.Run("explain", "--logits=-Infinity,1", "--target", "0").Out, run.Out);
    }

    public static TheoryData<string[], string[]> Spellings => new()
    {
        { ["--logits", "-.5,2", "--target", "1"], ["--logits=-.5,2", "--target", "1"] },
        { ["--logits", "-NaN,2", "--target", "1"], ["--logits=-NaN,2", "--target", "1"] },
        { ["--logits", "1,2", "--target", "0", "--weights", "-.5,1"], ["--logits", "1,2", "--target", "0", "--weights=-.5,1"] },
    };

    [Theory]
    [MemberData(nameof(Spellings))]
    public void AValueStartingWithADashIsReadAsWithAnEqualsSign(string[] spaced, string[] equals)
    {
        var run = CliRun.Run(["explain", .. spaced]);
        var reference = CliRun.Run(["explain", .. equals]);
        Assert.True(run.ExitCode == 0 && reference.ExitCode == 0, run.Error + reference.Error);
        Assert.Equal(reference.Out, run.Out);
    }

    public static TheoryData<string[], string[]> Lines => new()
    {
        { ["explain", "--logits", "-Infinity,1", "--target", "0"], ["explain", "--logits=-Infinity,1", "--target", "0"] },
        { ["loss", "--ignore-index", "-5"], ["loss", "--ignore-index=-5"] },
        { ["sample", "--prompt", "-x"], ["sample", "--prompt=-x"] },

        // Flags take no value, Spectre's own short options stay options, "--" ends the options.
        { ["loss", "--json", "-x"], ["loss", "--json", "-x"] },
        { ["explain", "--logits", "-h"], ["explain", "--logits", "-h"] },
        { ["explain", "--logits", "--target", "-1"], ["explain", "--logits", "--target=-1"] },
        { ["explain", "--logits=-1", "-x"], ["explain", "--logits=-1", "-x"] },
        { ["explain", "--", "--logits", "-1"], ["explain", "--", "--logits", "-1"] },
        { ["explain", "--logits", "-"], ["explain", "--logits", "-"] },
        { ["explain", "--unknown", "-1"], ["explain", "--unknown", "-1"] },
    };

    [Theory]
    [MemberData(nameof(Lines))]
    public void OnlyAValueTakingOptionAndTheDashWordAfterItAreJoined(string[] args, string[] expected)
    {
        Assert.Equal(expected, OptionValues.Join(args));
    }

    [Fact]
    public void AStrayDashWordSaysWhereAValueGoes()
    {
        CliRun.Run("explain", "-Infinity,1", "--target", "0")
            .AssertBadInput("xent has no short options", "a value that starts with '-' goes right after its option");
    }

    [Theory]
    [InlineData("train", "--text", "-")]
    [InlineData("sample", "--prompt", "-")]
    [InlineData("loss", "-")]
    public void ALoneDashSaysHowToReadStandardInput(params string[] args)
    {
        // Spectre's own line was "Option does not have a name.", which names neither the word nor what to write.
        CliRun.Run(args).AssertBadInput("a lone '-' is neither an option nor a value", "give /dev/stdin (--text /dev/stdin)");
    }
}
