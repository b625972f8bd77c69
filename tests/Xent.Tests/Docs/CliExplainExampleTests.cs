using Xent.Tests.Cli;

namespace Xent.Tests.Docs;

/// <summary>docs/cli.md shows the output of its xent explain example as it is: the test fails when either changes without the other.</summary>
public sealed class CliExplainExampleTests
{
    private const string Command = "xent explain --logits 2.0,1.0,0.1 --target 0";

    [Fact]
    public void TheExplainExampleIsWhatTheCommandPrints()
    {
        string doc = File.ReadAllText(Path.Combine(ReadmeTests.RepositoryRoot(), "docs", "cli.md")).ReplaceLineEndings("\n");
        int command = doc.IndexOf("```sh\n" + Command + "\n```", StringComparison.Ordinal);
        Assert.True(command >= 0, $"docs/cli.md has no ```sh block with '{Command}'");
        int start = doc.IndexOf("```text\n", command, StringComparison.Ordinal) + "```text\n".Length;
        string shown = doc[start..doc.IndexOf("\n```", start, StringComparison.Ordinal)];

        var run = CliRun.Run(Command.Split(' ')[1..]);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Equal(shown, run.Out.ReplaceLineEndings("\n").TrimEnd('\n'));
    }
}
