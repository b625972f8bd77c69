using System.Text;
using Xent.Tests.Training;
using Xent.Training.Checkpoints;
using Xent.Training.Runs;

namespace Xent.Tests.Cli;

/// <summary>
/// A metrics.jsonl whose end turned to NUL bytes (a power loss before the file's last blocks reached the disk) is
/// resumed with a warning saying how many lines were lost, not silently; a last line cut short by a kill stays the
/// quiet case it was. A last unreadable line that ends in its newline was dropped as if a kill had cut it, and a line
/// reading <c>null</c> (JSON, but no record) was skipped, both without a word; no kill leaves either, as each line is
/// written with its newline in one write, so both are damage, warned of as an unreadable line before the last is.
/// So are lines such as <c>{}</c>, <c>{"foo":1}</c> or <c>{"step":0}</c>, which were read as records of step 0 and loss
/// 0 and kept without a word, the log then listing a step 0 that no run trains.
/// </summary>
public sealed class TrainMetricsDamageTests : IDisposable
{
    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public void Lines_turned_to_nul_bytes_are_dropped_with_a_warning_naming_their_count()
    {
        string dir = temp["run"];
        Assert.Equal(0, TrainCommandTests.Train(dir, "--steps", "10", "--eval-every", "5").ExitCode);
        string metrics = Path.Combine(dir, MetricsLog.FileName);
        string[] lines = File.ReadAllLines(metrics);
        // The last three lines, newlines included, zeroed in place: the file keeps its length, as after a power loss.
        int keep = Encoding.UTF8.GetByteCount(string.Concat(lines[..7].Select(l => l + "\n")));
        byte[] bytes = File.ReadAllBytes(metrics);
        Array.Clear(bytes, keep, bytes.Length - keep);
        File.WriteAllBytes(metrics, bytes);

        var run = CliRun.Run(["train", "--resume", dir, "--steps", "12", "--eval-every", "5", .. TrainCommandTests.Tiny]);

        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Contains($"xent: warning: {metrics}: line 8 was unreadable (NUL bytes", run.Error, StringComparison.Ordinal);
        Assert.Contains("steps 8-10 are missing", run.Error, StringComparison.Ordinal);
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 11, 12], MetricsLog.Read(metrics).Select(r => (int)r.Step));
    }

    [Fact]
    public void A_last_line_cut_short_by_a_kill_is_dropped_quietly()
    {
        string dir = temp["run"];
        Assert.Equal(0, TrainCommandTests.Train(dir, "--steps", "10", "--eval-every", "5").ExitCode);
        string metrics = Path.Combine(dir, MetricsLog.FileName);
        File.AppendAllText(metrics, "{\"step\":11,\"lo");

        var run = CliRun.Run(["train", "--resume", dir, "--steps", "12", "--eval-every", "5", .. TrainCommandTests.Tiny]);

        Assert.True(run.ExitCode == 0, run.Error);
        Assert.DoesNotContain("warning", run.Error, StringComparison.Ordinal);
        Assert.Equal(Enumerable.Range(1, 12), MetricsLog.Read(metrics).Select(r => (int)r.Step));
    }

    /// <summary>
    /// A last unreadable line ended by a carriage return, not a newline, was dropped without a word as if a kill had
    /// cut it; xent never writes a carriage return, so no kill leaves one last, and it is damage, named by its line.
    /// </summary>
    [Theory]
    [InlineData("{\"step\":11,\"lo\r")]
    [InlineData("not a record\r")]
    public void A_last_line_ended_by_a_carriage_return_is_dropped_with_a_warning(string last)
    {
        string dir = temp["run"];
        Assert.Equal(0, TrainCommandTests.Train(dir, "--steps", "10", "--eval-every", "5").ExitCode);
        string metrics = Path.Combine(dir, MetricsLog.FileName);
        File.AppendAllText(metrics, last);

        var run = CliRun.Run(["train", "--resume", dir, "--steps", "12", "--eval-every", "5", .. TrainCommandTests.Tiny]);

        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Contains($"xent: warning: {metrics}: line 11 was unreadable (not a record of a step) and dropped.", run.Error, StringComparison.Ordinal);
        Assert.Equal(Enumerable.Range(1, 12), MetricsLog.Read(metrics).Select(r => (int)r.Step));
    }

    /// <summary>
    /// A log edited on Windows, every line ended by CR LF, is resumed as any other: its records kept without a warning,
    /// the resumed steps' lines added after them (ended by a newline, as xent writes every line); an unreadable line
    /// in it is named by its line number, CR LF ending one line; and a last line cut short after it is dropped quietly.
    /// </summary>
    [Theory]
    [InlineData("", null)]
    [InlineData("not a record\r\n", "line 11 was unreadable (not a record of a step) and dropped.")]
    [InlineData("{\"step\":11,\"lo", null)]
    public void A_log_with_windows_line_ends_resumes_as_any_other(string last, string? warning)
    {
        string dir = temp["run"];
        Assert.Equal(0, TrainCommandTests.Train(dir, "--steps", "10", "--eval-every", "5").ExitCode);
        string metrics = Path.Combine(dir, MetricsLog.FileName);
        string[] lines = File.ReadAllLines(metrics);
        File.WriteAllText(metrics, string.Concat(lines.Select(l => l + "\r\n")) + last);

        var run = CliRun.Run(["train", "--resume", dir, "--steps", "12", "--eval-every", "5", .. TrainCommandTests.Tiny]);

        Assert.True(run.ExitCode == 0, run.Error);
        if (warning is null)
        {
            Assert.DoesNotContain("warning", run.Error, StringComparison.Ordinal);
        }
        else
        {
            Assert.Contains($"xent: warning: {metrics}: {warning}", run.Error, StringComparison.Ordinal);
        }

        Assert.Equal(Enumerable.Range(1, 12), MetricsLog.Read(metrics).Select(r => (int)r.Step));
        Assert.Equal(lines, File.ReadAllLines(metrics)[..10]);
    }

    /// <summary>
    /// Two runs' logs in one file (this run's lines twice, as a copy appended to itself leaves them): the resume kept
    /// them all and went on after them without a word, so metrics.jsonl listed steps 1 to 10 twice and then 11 and 12.
    /// The lines that repeat steps are now dropped with a warning naming them and the first one's step.
    /// </summary>
    [Fact]
    public void Steps_listed_twice_are_dropped_with_a_warning_naming_the_line_and_step()
    {
        string dir = temp["run"];
        Assert.Equal(0, TrainCommandTests.Train(dir, "--steps", "10", "--eval-every", "5").ExitCode);
        string metrics = Path.Combine(dir, MetricsLog.FileName);
        string log = File.ReadAllText(metrics);
        File.WriteAllText(metrics, log + log);

        var run = CliRun.Run(["train", "--resume", dir, "--steps", "12", "--eval-every", "5", .. TrainCommandTests.Tiny]);

        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Contains($"xent: warning: {metrics}: lines 11-20 were dropped: their steps are not after those before them (line 11: step 1, after step 10)",
            run.Error, StringComparison.Ordinal);
        Assert.Equal(Enumerable.Range(1, 12), MetricsLog.Read(metrics).Select(r => (int)r.Step));
        Assert.StartsWith(log, File.ReadAllText(metrics), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(10, "not a record")] // the last line, its newline after it
    [InlineData(10, "null")]
    [InlineData(5, "null")] // between the lines of steps 5 and 6
    [InlineData(5, "not a record")] // the case that was already warned of
    [InlineData(5, "{}")] // JSON objects that read as a record of step 0, loss 0
    [InlineData(5, "{\"foo\":1}")]
    [InlineData(10, "{\"step\":0}")]
    [InlineData(5, "{\"step\":6,\"loss\":1}")] // a step's line without the fields every line has
    public void A_line_no_kill_leaves_is_dropped_with_a_warning_wherever_it_is(int after, string line)
    {
        string dir = temp["run"];
        Assert.Equal(0, TrainCommandTests.Train(dir, "--steps", "10", "--eval-every", "5").ExitCode);
        string metrics = Path.Combine(dir, MetricsLog.FileName);
        var lines = File.ReadAllLines(metrics).ToList();
        lines.Insert(after, line);
        File.WriteAllText(metrics, string.Concat(lines.Select(l => l + "\n")));

        var run = CliRun.Run(["train", "--resume", dir, "--steps", "12", "--eval-every", "5", .. TrainCommandTests.Tiny]);

        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Contains($"xent: warning: {metrics}: line {after + 1} was unreadable (not a record of a step) and dropped.", run.Error, StringComparison.Ordinal);
        Assert.Equal(Enumerable.Range(1, 12), MetricsLog.Read(metrics).Select(r => (int)r.Step));
    }

    /// <summary>
    /// A resume that could not write the log without its damaged line (a full disk) said it failed "dropping a last
    /// line cut short", a line the log did not hold: it now says it was dropping an unreadable line.
    /// </summary>
    [Fact]
    public void A_resume_that_cannot_drop_a_damaged_line_says_so()
    {
        string dir = temp["run"];
        Assert.Equal(0, TrainCommandTests.Train(dir, "--steps", "10", "--eval-every", "5").ExitCode);
        string metrics = Path.Combine(dir, MetricsLog.FileName);
        var lines = File.ReadAllLines(metrics).ToList();
        lines.Insert(5, "not a record");
        File.WriteAllText(metrics, string.Concat(lines.Select(l => l + "\n")));
        var files = new CreateFails(MetricsLog.FileName, diskFull: true);

        CliRun run;
        using (CheckpointFiles.Use(files))
        {
            run = CliRun.Run(["train", "--resume", dir, "--steps", "12", "--eval-every", "5", .. TrainCommandTests.Tiny]);
        }

        run.AssertBadInput($"cannot write '{metrics}', dropping 1 unreadable line: the disk is full.", "Nothing was replaced");
        Assert.NotNull(files.Thrown);
        Assert.Equal(string.Concat(lines.Select(l => l + "\n")), File.ReadAllText(metrics));
    }
}
