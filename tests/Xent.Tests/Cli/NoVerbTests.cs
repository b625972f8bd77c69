namespace Xent.Tests.Cli;

/// <summary>`xent` with no verb is a usage error: Spectre's root help on stderr, exit 2, nothing on stdout.</summary>
public sealed class NoVerbTests
{
    [Fact]
    public void NoArguments_HelpOnStderr_Exit2()
    {
        var run = CliRun.Run();
        Assert.Equal(2, run.ExitCode);
        Assert.Equal("", run.Out);

        // The help --help prints (on stdout, exit 0), word for word, then the one error line.
        var help = CliRun.Run("--help");
        Assert.Equal(0, help.ExitCode);
        Assert.StartsWith(help.Out, run.Error, StringComparison.Ordinal);
        Assert.Equal(
            "xent: error: no command given: name one of the COMMANDS above (xent COMMAND --help for its options).",
            run.Error[help.Out.Length..].Trim());
    }
}
