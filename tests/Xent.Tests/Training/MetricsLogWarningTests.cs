using Xent.Training.Checkpoints;
using Xent.Training.Data;
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

    /// <summary>
    /// A log whose steps repeat or go back (two runs' logs in one file, an edit) was kept whole on resume, lines past
    /// the checkpoint's step cut, without a word: the run's log then listed steps twice, which loss.png drew as a curve
    /// going back and --early-stop counted as evaluations twice. The lines whose step is not after the one before are
    /// dropped, named with the first one's step.
    /// </summary>
    [Fact]
    public void Steps_that_go_back_are_dropped_and_named()
    {
        string metrics = Path.Combine(dir, MetricsLog.FileName);
        string log = string.Concat(Enumerable.Range(1, 10).Concat(Enumerable.Range(1, 12)).Select(s => Line(s) + "\n"));
        File.WriteAllText(metrics, log);

        using (var log10 = MetricsLog.Open(dir, keepThroughStep: 10))
        {
            Assert.Equal(Enumerable.Range(1, 10), log10.Records.Select(r => (int)r.Step));
            Assert.Equal($"{metrics}: lines 11-20 were dropped: their steps are not after those before them (line 11: step 1, after "
                + "step 10), and one run's steps only go up (two logs in one file, or edited by hand).", log10.Warning);
        }

        Assert.Equal(Enumerable.Range(1, 10), MetricsLog.Read(metrics).Select(r => (int)r.Step));
    }

    [Fact]
    public void A_step_repeated_is_dropped_and_named_with_the_steps_it_leaves_missing()
    {
        // Step 3's line moved after step 7's: the log goes 1, 2, 4, ..., 7, 3, 8, ...
        var steps = new[] { 1, 2, 4, 5, 6, 7, 3, 8, 9, 10 };
        string metrics = Path.Combine(dir, MetricsLog.FileName);
        File.WriteAllText(metrics, string.Concat(steps.Select(s => Line(s) + "\n")));

        using var log = MetricsLog.Open(dir, keepThroughStep: 10);

        Assert.Equal(steps.Where(s => s != 3), log.Records.Select(r => (int)r.Step));
        Assert.Equal($"{metrics}: line 7 was dropped: its step 3 is not after step 7 before it, and one run's steps only go up "
            + "(two logs in one file, or edited by hand); step 3 is missing from it (trained, and in the checkpoint of step 10, "
            + "but their lines are lost).", log.Warning);
    }

    /// <summary>A resume that cannot write the log without such lines (a full disk) says it was dropping them.</summary>
    [Fact]
    public void A_resume_that_cannot_drop_steps_out_of_order_says_so()
    {
        string metrics = Path.Combine(dir, MetricsLog.FileName);
        string log = string.Concat(Enumerable.Range(1, 10).Concat(Enumerable.Range(1, 10)).Append(3).Select(s => Line(s) + "\n")) + "bad\n{\"st";
        File.WriteAllText(metrics, log);

        TrainingInputException e;
        using (CheckpointFiles.Use(new CreateFails(MetricsLog.FileName, diskFull: true)))
        {
            e = Assert.Throws<TrainingInputException>(() => MetricsLog.Open(dir, keepThroughStep: 10));
        }

        Assert.StartsWith($"cannot write '{metrics}', dropping 1 unreadable line, 11 lines out of step order and a last line cut short: the disk is full.",
            e.Message, StringComparison.Ordinal);
        Assert.Equal(log, File.ReadAllText(metrics));
    }

    /// <summary>
    /// A carriage return inside a line (xent never writes one) ended a line for the reader: the line was read as two,
    /// each dropped as unreadable or, where the halves were records, kept as two, and every later line was numbered one
    /// past the line a user finds there. The line is dropped whole, for what it holds, numbered by its newlines.
    /// </summary>
    [Fact]
    public void A_carriage_return_inside_a_line_drops_that_line_numbered_by_newlines()
    {
        string metrics = Path.Combine(dir, MetricsLog.FileName);
        var lines = Enumerable.Range(1, 10).Select(s => Line(s)).ToList();
        lines.Insert(3, "bad\rbad");
        lines.Insert(6, "bad");
        File.WriteAllText(metrics, string.Concat(lines.Select(l => l + "\n")));

        using var log = MetricsLog.Open(dir, keepThroughStep: 10);

        Assert.Equal(Enumerable.Range(1, 10), log.Records.Select(r => (int)r.Step));
        Assert.Equal($"{metrics}: lines 4, 7 were unreadable (not a record of a step, or a carriage return inside a line, which xent never writes) and dropped.",
            log.Warning);
    }

    [Fact]
    public void A_record_with_a_carriage_return_inside_is_dropped_and_its_step_named()
    {
        string metrics = Path.Combine(dir, MetricsLog.FileName);
        var lines = Enumerable.Range(1, 10).Select(s => Line(s)).ToList();
        lines[4] = lines[4].Replace(",", ",\r", StringComparison.Ordinal);
        lines[7] = $"{Line(8)}\r{Line(9)}";
        lines.RemoveAt(8);
        File.WriteAllText(metrics, string.Concat(lines.Select(l => l + "\r\n")));

        using var log = MetricsLog.Open(dir, keepThroughStep: 10);

        Assert.Equal([1, 2, 3, 4, 6, 7, 10], log.Records.Select(r => (int)r.Step));
        Assert.Equal($"{metrics}: lines 5, 8 were unreadable (a carriage return inside a line, which xent never writes) and dropped; "
            + "steps 5, 8-9 are missing from it (trained, and in the checkpoint of step 10, but their lines are lost).", log.Warning);
        Assert.Equal(log.Records, MetricsLog.Read(metrics));
    }

    [Fact]
    public void Past_five_ranges_only_a_count_is_given()
    {
        string metrics = Path.Combine(dir, MetricsLog.FileName);
        Assert.Equal($"{metrics}: lines 1, 3, 5, 7, 9 and 3 more were unreadable (not a record of a step) and dropped.",
            Resume(0, 2, 4, 6, 8, 10, 12, 14));
    }
}
