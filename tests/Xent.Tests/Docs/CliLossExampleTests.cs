using System.Text.Json;
using System.Text.RegularExpressions;
using Xent.Tests.Cli;

namespace Xent.Tests.Docs;

/// <summary>docs/cli.md's <c>xent loss --json</c> example has the fields, in order, that the command prints.</summary>
public sealed partial class CliLossExampleTests : IDisposable
{
    private readonly TempFolder dir = new();

    public void Dispose() => dir.Dispose();

    [Fact]
    public void The_json_example_has_the_fields_the_command_prints()
    {
        string doc = File.ReadAllText(Path.Combine(ReadmeTests.RepositoryRoot(), "docs", "cli.md"));
        string example = JsonLine().Match(doc).Value;
        Assert.NotEqual("", example);

        var logits = new float[4 * 8 * 10];
        var targets = new int[4 * 8];
        targets[5] = -100;
        string l = TestNpy.F32(dir["logits.npy"], logits, 4, 8, 10);
        string t = TestNpy.I32(dir["targets.npy"], targets, 4, 8);
        var run = CliRun.Run("loss", "--logits", l, "--targets", t, "--label-smoothing", "0.1", "--z-loss", "1e-4",
            "--grad", dir["grad.npy"], "--losses", dir["losses.npy"], "--json");
        Assert.True(run.ExitCode == 0, run.Error);

        Assert.Equal(Keys(run.Out), Keys(example));
    }

    [Fact]
    public void The_count_of_npy_header_cases_is_that_of_the_data_file()
    {
        string root = ReadmeTests.RepositoryRoot();
        string doc = File.ReadAllText(Path.Combine(root, "docs", "cli.md"));
        int cases = File.ReadAllLines(Path.Combine(root, "tests", "Xent.Tests", "Cli", "Data", "npy-headers.jsonl")).Count(l => l.Length > 0);
        Assert.Contains($"lists {cases} edge cases with NumPy's verdict on each", doc, StringComparison.Ordinal);
    }

    private static string[] Keys(string json) =>
        [.. JsonDocument.Parse(json).RootElement.EnumerateObject().Select(p => p.Name)];

    [GeneratedRegex(@"^\{""loss"":.*\}$", RegexOptions.Multiline)]
    private static partial Regex JsonLine();
}
