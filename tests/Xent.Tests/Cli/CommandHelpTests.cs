using System.Text.RegularExpressions;

namespace Xent.Tests.Cli;

/// <summary>
/// Every command's --help prints its options and exits 0. Descriptions are Spectre markup, where an unescaped
/// "[0, 1)" is a malformed tag: `xent train --help` once ended in an internal error for it.
/// </summary>
public sealed partial class CommandHelpTests
{
    [Fact]
    public void Every_command_prints_its_help()
    {
        var root = CliRun.Run("--help");
        Assert.Equal(0, root.ExitCode);
        string commandsPart = root.Out[root.Out.IndexOf("COMMANDS:", StringComparison.Ordinal)..];
        string[] commands = [.. CommandLine().Matches(commandsPart).Select(m => m.Groups[1].Value)];
        Assert.Contains("train", commands);
        Assert.Contains("loss", commands);
        foreach (string command in commands)
        {
            var help = CliRun.Run(command, "--help");
            Assert.True(help.ExitCode == 0, $"xent {command} --help: exit {help.ExitCode}: {help.Error}");
            Assert.Contains("OPTIONS:", help.Out, StringComparison.Ordinal);
            Assert.Equal("", help.Error);
        }
    }

    // A command's line in the root help: four spaces, its name, then its description.
    [GeneratedRegex(@"^ {4}([a-z]+) {2,}\S", RegexOptions.Multiline)]
    private static partial Regex CommandLine();
}
