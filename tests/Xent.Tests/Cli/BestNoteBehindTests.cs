using System.Text.Json;
using Xent.Training.Checkpoints;
using Xent.Training.Runs;

namespace Xent.Tests.Cli;

/// <summary>
/// A kill between the replacing of best/'s checkpoint and the rewriting of best/best.json leaves the note one best
/// behind (or missing, at the first best). A resume took its older, higher loss: a worse checkpoint could replace
/// best/'s, --early-stop counted its patience from the older step, and summary.json reported a best that was not
/// best/'s. A resume now takes the step of best/'s checkpoint and its loss from metrics.jsonl.
/// </summary>
public sealed class BestNoteBehindTests : IDisposable
{
    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public void A_note_one_best_behind_is_taken_for_best_checkpoints_step_and_its_measured_loss()
    {
        var (dir, olderNote, step) = KilledBeforeTheNote();

        // Patience 1 from the older step would have run out at once; from best/'s step it has not.
        var run = CliRun.Run("train", "--resume", dir, "--steps", $"{step + 4}", "--eval-every", "2", "--early-stop", "1");
        Assert.True(run.ExitCode == 0, run.Error);
        AssertBestIsTheLowest(dir);
        Assert.True(Summary(dir).GetProperty("steps").GetInt64() > step);
        Assert.NotEqual(olderNote, File.ReadAllText(NotePath(dir)));
    }

    [Fact]
    public void A_worse_evaluation_does_not_replace_best_whose_note_is_behind_or_missing()
    {
        foreach (bool missing in new[] { false, true })
        {
            var (dir, _, step) = KilledBeforeTheNote(missing ? "missing" : "behind");
            if (missing)
            {
                File.Delete(NotePath(dir));
            }

            // A learning rate far too high: the next evaluation is worse than best/'s.
            var run = CliRun.Run("train", "--resume", dir, "--steps", $"{step + 2}", "--eval-every", "2", "--lr", "100");
            Assert.True(run.ExitCode == 0, run.Error);
            Assert.True(ValLoss(dir, step + 2) > ValLoss(dir, step), "the test needs a worse evaluation after best/'s");
            AssertBestIsTheLowest(dir);
            Assert.Equal(step, CheckpointStore.LoadConfig(Path.Combine(dir, BestCheckpoint.Folder)).Step);
        }
    }

    [Fact]
    public void A_note_behind_whose_checkpoints_loss_metrics_lack_is_refused_and_nothing_is_written()
    {
        var (dir, _, step) = KilledBeforeTheNote();
        string metrics = Path.Combine(dir, MetricsLog.FileName);
        string[] lines = File.ReadAllLines(metrics);
        File.WriteAllLines(metrics, lines.Where(l => !l.Contains($"\"step\":{step},", StringComparison.Ordinal)));
        var before = Snapshot(dir);

        var run = CliRun.Run("train", "--resume", dir, "--steps", $"{step + 4}", "--eval-every", "2");
        run.AssertBadInput(NotePath(dir), "gives step 2, but the checkpoint in");
        Assert.Contains($"is of step {step}", run.Error, StringComparison.Ordinal);
        Assert.Contains($"no validation loss of step {step}", run.Error, StringComparison.Ordinal);
        Assert.Contains("Nothing was written and the run did not start", run.Error, StringComparison.Ordinal);
        Assert.Equal(before, Snapshot(dir));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_note_behind_whose_metrics_jsonl_cannot_be_read_is_one_line_and_nothing_is_written(bool permission)
    {
        var (dir, _, step) = KilledBeforeTheNote();
        var before = Snapshot(dir);

        // Read through the test's file layer: no permission, or a disk that fails halfway through the file.
        var files = new TrainReadErrorTests.ReadFails(MetricsLog.FileName, permission);
        CliRun run;
        using (CheckpointFiles.Use(files))
        {
            run = CliRun.Run("train", "--resume", dir, "--steps", $"{step + 4}", "--eval-every", "2");
        }

        string problem = permission ? "permission denied" : "an I/O error (the disk or its file system failed to read it)";
        run.AssertBadInput($"cannot read '{Path.Combine(dir, MetricsLog.FileName)}', finding the validation loss of step {step}, the best checkpoint's: {problem}. " +
            "Nothing was written: best/ and the checkpoint are untouched, and the run did not start.", problem);
        Assert.NotNull(files.Thrown);
        Assert.Equal(before, Snapshot(dir));
    }

    // A run whose best/ holds a later checkpoint (Step) beside best.json of step 2, as a kill between them leaves it.
    // The tiny model's loss is noisy: the run is resumed two steps at a time until an evaluation beats step 2's.
    private (string Dir, string OlderNote, long Step) KilledBeforeTheNote(string name = "run")
    {
        string dir = temp[name];
        var trained = TrainCommandTests.Train(dir, "--steps", "2", "--eval-every", "2", "--lr", "0.05", "--warmup", "0");
        Assert.True(trained.ExitCode == 0, trained.Error);
        string olderNote = File.ReadAllText(NotePath(dir));
        long step = 2;
        while (BestCheckpoint.Read(dir)?.Step == 2)
        {
            Assert.True(step < 40, "no evaluation beat step 2's");
            step += 2;
            var resumed = CliRun.Run("train", "--resume", dir, "--steps", $"{step}", "--eval-every", "2");
            Assert.True(resumed.ExitCode == 0, resumed.Error);
        }

        Assert.Equal(step, BestCheckpoint.Read(dir)?.Step);
        File.WriteAllText(NotePath(dir), olderNote);
        Assert.Equal(2, BestCheckpoint.Read(dir)?.Step);
        return (dir, olderNote, step);
    }

    // best/'s checkpoint, best.json and summary.json all name the lowest validation loss metrics.jsonl holds.
    private static void AssertBestIsTheLowest(string dir)
    {
        var lowest = MetricsLog.Read(Path.Combine(dir, MetricsLog.FileName)).Where(r => r.ValLoss is not null).MinBy(r => r.ValLoss!.Value)!;
        var summary = Summary(dir);
        Assert.Equal(lowest.Step, CheckpointStore.LoadConfig(Path.Combine(dir, BestCheckpoint.Folder)).Step);
        Assert.Equal((lowest.Step, lowest.ValLoss!.Value), BestCheckpoint.Read(dir));
        Assert.Equal(lowest.Step, summary.GetProperty("best_step").GetInt64());
        Assert.Equal(lowest.ValLoss.Value, summary.GetProperty("best_val_loss").GetDouble());
    }

    private static double ValLoss(string dir, long step) =>
        MetricsLog.Read(Path.Combine(dir, MetricsLog.FileName)).Single(r => r.Step == step).ValLoss!.Value;

    private static string NotePath(string dir) => Path.Combine(dir, BestCheckpoint.Folder, BestCheckpoint.InfoFile);

    private static JsonElement Summary(string dir) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, RunSummary.FileName))).RootElement;

    private static Dictionary<string, string> Snapshot(string folder) =>
        Directory.GetFiles(folder, "*", SearchOption.AllDirectories).ToDictionary(f => Path.GetRelativePath(folder, f), f => Convert.ToHexString(File.ReadAllBytes(f)));
}
