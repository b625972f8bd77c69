using Xent.Training.Runs;

namespace Xent.Tests.Training;

/// <summary>
/// The warning of a resume whose metrics.jsonl held lines no run writes said how many were dropped, not which: a user
/// looking for them in a log of thousands of lines had nothing to go by. It names them, as ranges, and past a few
/// ranges says how many more there are.
/// </summary>
public sealed class MetricsLogWarningTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("xent-metrics-warning-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static string Line(long step) =>
        $"{{\"step\":{step},\"loss\":1,\"val_loss\":null,\"lr\":0.001,\"tokens_per_s\":10,\"grad_norm\":1}}";

    // The warning of a resume from step 10 of a log of steps 1 to 10, with "bad" in front of the lines at these indexes
    // (0-based, counted in the new file), each with its newline.
    private string? Resume(params int[] bad)
    {
        var lines = Enumerable.Range(1, 10).Select(s => Line(s)).ToList();
        foreach (int at in bad)
        {
            lines.Insert(at, "bad");
        }

        File.WriteAllText(Path.Combine(dir, MetricsLog.FileName), string.Concat(lines.Select(l => l + "\n")));
        using var log = MetricsLog.Open(dir, keepThroughStep: 10);
        Assert.Equal(Enumerable.Range(1, 10), log.Records.Select(r => (int)r.Step));
        return log.Warning;
    }

    [Fact]
    public void One_line_is_named()
    {
        string metrics = Path.Combine(dir, MetricsLog.FileName);
        Assert.Equal($"{metrics}: line 4 was unreadable (not a record of a step) and dropped.", Resume(3));
    }

    [Fact]
    public void Lines_in_a_row_are_a_range()
    {
        string metrics = Path.Combine(dir, MetricsLog.FileName);
        Assert.Equal($"{metrics}: lines 1, 4-6, 13 were unreadable (not a record of a step) and dropped.", Resume(0, 3, 4, 5, 12));
    }

    [Fact]
    public void Past_five_ranges_only_a_count_is_given()
    {
        string metrics = Path.Combine(dir, MetricsLog.FileName);
        Assert.Equal($"{metrics}: lines 1, 3, 5, 7, 9 and 3 more were unreadable (not a record of a step) and dropped.",
            Resume(0, 2, 4, 6, 8, 10, 12, 14));
    }
}
