using System.Text.Json;
using Xent.Tests.Training;
using Xent.Training.Checkpoints;
using Xent.Training.Runs;

namespace Xent.Tests.Cli;

/// <summary>
/// `xent train --resume A --out B`. The resume read B's best/best.json and B's metrics.jsonl, not A's: a new B took its
/// first evaluation for the best, however much worse than A's best (and --early-stop counted from it), and a B holding
/// another run had that run's best/, metrics lines and checkpoint mixed into this one or replaced. B now starts as a
/// copy of A's run up to the checkpoint (A only read), and a B holding another run's files is refused.
/// </summary>
public sealed class ResumeIntoOtherFolderTests : IDisposable
{
    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public void Resumed_into_a_new_folder_the_run_goes_on_as_its_resume_in_place_does_and_its_folder_is_only_read()
    {
        string from = temp["from"], inPlace = temp["in-place"], into = temp["into"];
        var trained = TrainCommandTests.Train(from, "--steps", "2", "--eval-every", "2", "--lr", "0.05", "--warmup", "0");
        Assert.True(trained.ExitCode == 0, trained.Error);
        CopyFolder(from, inPlace);
        Directory.CreateDirectory(into);
        File.WriteAllText(Path.Combine(into, "notes.txt"), "not a run's file");
        var before = Snapshot(from);

        // A learning rate far too high: the evaluations after step 2 are worse, so the best stays step 2's, and
        // --early-stop 1 ends the run at the next one.
        string[] resume = ["--steps", "6", "--eval-every", "2", "--lr", "100", "--early-stop", "1"];
        var ran = CliRun.Run(["train", "--resume", inPlace, .. resume]);
        Assert.True(ran.ExitCode == 0, ran.Error);
        Assert.True(ValLosses(inPlace)[1].ValLoss > ValLosses(inPlace)[0].ValLoss, "the test needs a worse evaluation after step 2's");
        var run = CliRun.Run(["train", "--resume", from, "--out", into, .. resume]);
        Assert.True(run.ExitCode == 0, run.Error);

        Assert.Equal(before, Snapshot(from));
        foreach (string file in new[] { BestCheckpoint.InfoFile, CheckpointStore.ModelFile, CheckpointStore.ConfigFile })
        {
            Assert.Equal(Bytes(inPlace, BestCheckpoint.Folder, file), Bytes(into, BestCheckpoint.Folder, file));
        }

        Assert.Equal(Bytes(inPlace, CheckpointStore.ModelFile), Bytes(into, CheckpointStore.ModelFile));
        Assert.Equal(ValLosses(inPlace), ValLosses(into));
        Assert.Equal([1L, 2, 3, 4], MetricsLog.Read(Path.Combine(into, MetricsLog.FileName)).Select(r => r.Step));
        foreach (string key in new[] { "best_step", "best_val_loss", "stopped_early", "steps", "initial_val_loss" })
        {
            Assert.Equal(Summary(inPlace).GetProperty(key).GetRawText(), Summary(into).GetProperty(key).GetRawText());
        }

        Assert.Equal("not a run's file", File.ReadAllText(Path.Combine(into, "notes.txt")));
    }

    [Theory]
    [InlineData("model.safetensors")]
    [InlineData("config.json")]
    [InlineData("metrics.jsonl")]
    [InlineData("summary.json")]
    [InlineData("best")]
    [InlineData("")]
    public void A_folder_holding_another_runs_files_is_refused_and_nothing_is_written(string only)
    {
        string from = temp["from"], other = temp["other"], into = temp["into"];
        Assert.Equal(0, TrainCommandTests.Train(from, "--steps", "2", "--eval-every", "2").ExitCode);
        Assert.Equal(0, TrainCommandTests.Train(other, "--steps", "4", "--eval-every", "2", "--seed", "9").ExitCode);
        if (only.Length > 0)
        {
            // One of another run's files alone (a run stopped before its first checkpoint leaves metrics.jsonl).
            CopyFolder(other, into, only);
        }
        else
        {
            into = other;
        }

        var (beforeFrom, beforeInto) = (Snapshot(from), Snapshot(into));
        var run = CliRun.Run("train", "--resume", from, "--out", into, "--steps", "6", "--eval-every", "2");
        run.AssertBadInput($"'{into}' holds another run's {only switch { "" => "model.safetensors, config.json, metrics.jsonl, summary.json, best/", "best" => "best/", _ => only }}", "Nothing was written and the run did not start");
        Assert.Equal(beforeFrom, Snapshot(from));
        Assert.Equal(beforeInto, Snapshot(into));
    }

    [Fact]
    public void Its_messages_name_the_other_folder_as_given_not_as_a_full_path()
    {
        string from = temp["from"], other = temp["other"];
        Assert.Equal(0, TrainCommandTests.Train(from, "--steps", "2", "--eval-every", "2").ExitCode);
        Assert.Equal(0, TrainCommandTests.Train(other, "--steps", "2", "--eval-every", "2", "--seed", "9").ExitCode);
        string given = Path.GetRelativePath(Environment.CurrentDirectory, from);
        Assert.NotEqual(Path.GetFullPath(given), given);

        var run = CliRun.Run("train", "--resume", given, "--out", other, "--steps", "4", "--eval-every", "2");
        run.AssertBadInput($"a run resumed from the checkpoint in '{given}' into another folder", "Nothing was written and the run did not start");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_resume_stopped_before_its_first_checkpoint_in_the_new_folder_runs_again_with_the_same_command(bool fromHasMetrics)
    {
        string from = temp["from"], whole = temp["whole"], into = temp["into"];
        Assert.Equal(0, TrainCommandTests.Train(from, "--steps", "2", "--eval-every", "2", "--lr", "0.05", "--warmup", "0").ExitCode);
        if (!fromHasMetrics)
        {
            // A checkpoint folder copied without its log: the second try's log must not go on after the first's lines.
            File.Delete(Path.Combine(from, MetricsLog.FileName));
        }

        string[] resume = ["train", "--resume", from, "--out", into, "--steps", "8", "--eval-every", "4"];
        var uninterrupted = CliRun.Run([.. resume[..4], whole, .. resume[5..]]);
        Assert.True(uninterrupted.ExitCode == 0, uninterrupted.Error);

        // The first try stops at its first checkpoint (step 4: the disk fills as model.safetensors is written, the
        // second one created after best/'s copy), leaving the copies, the lines of steps 3 and 4 and no checkpoint.
        var failed = WithCheckpointSaveFailing(resume);

        failed.AssertBadInput(Path.Combine(into, CheckpointStore.ModelFile), "saving the checkpoint of step 4");
        Assert.False(CheckpointStore.Exists(into));
        Assert.Equal(2, CheckpointStore.ModelStep(Path.Combine(into, BestCheckpoint.Folder)));
        Assert.Equal(fromHasMetrics ? [1L, 2, 3, 4] : [3L, 4], MetricsLog.Read(Path.Combine(into, MetricsLog.FileName)).Select(r => r.Step));

        // The copy of best/ left there is whole: the run goes on with it, reading the other folder's note once (it
        // read it twice, and its best/ in full twice: once to compare, once to copy it again).
        var files = new CountedReads();
        CliRun again;
        using (CheckpointFiles.Use(files))
        {
            again = CliRun.Run(resume);
        }

        Assert.True(again.ExitCode == 0, again.Error);
        Assert.Equal(1, files.Opened(Path.Combine(from, BestCheckpoint.Folder, BestCheckpoint.InfoFile)));
        string[] folders = [.. files.Created.Select(f => Path.GetDirectoryName(Path.GetFullPath(f))!)];
        Assert.DoesNotContain(Path.GetFullPath(Path.Combine(into, BestCheckpoint.Folder)), folders.TakeWhile(f => f != Path.GetFullPath(into))); // before the run's own files
        AssertSameRun(whole, into);
    }

    /// <summary>
    /// The first try left only a copy of A's run and the lines of steps it trained, saved in no checkpoint; the copy is
    /// done again, so a second try with other options is a resume of A with those: nothing of the first try's remains.
    /// </summary>
    [Fact]
    public void A_resume_run_again_with_other_options_after_stopping_before_its_first_checkpoint_trains_with_the_new_ones()
    {
        string from = temp["from"], whole = temp["whole"], into = temp["into"];
        Assert.Equal(0, TrainCommandTests.Train(from, "--steps", "2", "--eval-every", "2", "--warmup", "0").ExitCode);
        string[] resume = ["train", "--resume", from, "--out", into, "--steps", "8", "--eval-every", "4"];
        string[] other = ["--lr", "0.01", "--beta2", "0.99", "--grad-clip", "0.5"];
        var failed = WithCheckpointSaveFailing(resume);

        failed.AssertBadInput(Path.Combine(into, CheckpointStore.ModelFile), "saving the checkpoint of step 4");
        Assert.Equal([1L, 2, 3, 4], MetricsLog.Read(Path.Combine(into, MetricsLog.FileName)).Select(r => r.Step));

        var uninterrupted = CliRun.Run([.. resume[..4], whole, .. resume[5..], .. other]);
        Assert.True(uninterrupted.ExitCode == 0, uninterrupted.Error);
        var again = CliRun.Run([.. resume, .. other]);
        Assert.True(again.ExitCode == 0, again.Error);
        AssertSameRun(whole, into);
        CheckpointTraining t = CheckpointStore.LoadConfig(into).Training;
        Assert.Equal((0.01, 0.99, 0.5), (t.LearningRate, t.Beta2, t.GradClip));
    }

    [Fact]
    public void A_killed_resume_left_before_its_first_checkpoint_in_the_new_folder_runs_again_with_the_same_command()
    {
        string from = temp["from"], whole = temp["whole"];
        Assert.Equal(0, TrainCommandTests.Train(from, "--steps", "2", "--eval-every", "2").ExitCode);
        string[] Resume(string into) => ["train", "--resume", from, "--out", into, "--steps", "6000", "--eval-every", "6000"];
        var uninterrupted = CliRun.Run(Resume(whole));
        Assert.True(uninterrupted.ExitCode == 0, uninterrupted.Error);

        // SIGKILL once a few of the resumed steps are in metrics.jsonl, long before the first checkpoint (step 6000). On
        // a loaded machine the thread watching the log can go unscheduled until the run's end: the kill then found it
        // done, and the try is made again in a new folder.
        string into = "";
        bool killed = false;
        for (int attempt = 1; attempt <= 3 && !killed; attempt++)
        {
            into = temp[$"into-{attempt}"];
            string metrics = Path.Combine(into, MetricsLog.FileName);
            killed = TrainKillTests.KillWhen(Resume(into), () => Steps(metrics) >= 6);
        }

        Assert.True(killed, "in each of 3 tries the run ended before it was killed");
        Assert.False(CheckpointStore.Exists(into));

        var again = CliRun.Run(Resume(into));
        Assert.True(again.ExitCode == 0, again.Error);
        AssertSameRun(whole, into);
    }

    [Theory]
    [InlineData("step")]
    [InlineData("line")]
    [InlineData("best")]
    public void A_copy_that_is_not_this_resumes_is_still_refused(string change)
    {
        string from = temp["from"], other = temp["other"], into = temp["into"];
        Assert.Equal(0, TrainCommandTests.Train(from, "--steps", "2", "--eval-every", "2").ExitCode);
        Assert.Equal(0, TrainCommandTests.Train(other, "--steps", "2", "--eval-every", "2", "--seed", "9").ExitCode);
        string[] resume = ["train", "--resume", from, "--out", into, "--steps", "4", "--eval-every", "4"];
        var failed = WithCheckpointSaveFailing(resume);

        Assert.Equal(2, failed.ExitCode);
        string metrics = Path.Combine(into, MetricsLog.FileName);
        switch (change)
        {
            case "step": // a line past the copy that is not the next step
                File.AppendAllText(metrics, File.ReadLines(metrics).Last().Replace("\"step\":4", "\"step\":9", StringComparison.Ordinal) + "\n");
                break;
            case "line": // a copied line that is not the other folder's
                // ReadAllLines, not ReadLines: WriteAllLines truncates the file before a lazy reader has read it.
                string[] lines = File.ReadAllLines(metrics);
                Assert.Contains("\"loss\":", lines[0], StringComparison.Ordinal);
                File.WriteAllLines(metrics, lines.Select((l, i) => i == 0 ? l.Replace("\"loss\":", "\"loss\":1", StringComparison.Ordinal) : l));
                break;
            default: // another run's best checkpoint of the same step
                File.Copy(Path.Combine(other, BestCheckpoint.Folder, CheckpointStore.ModelFile), Path.Combine(into, BestCheckpoint.Folder, CheckpointStore.ModelFile), overwrite: true);
                break;
        }

        var before = Snapshot(into);
        var run = CliRun.Run(resume);
        run.AssertBadInput($"'{into}' holds another run's metrics.jsonl, best/", "Nothing was written and the run did not start");
        Assert.Equal(before, Snapshot(into));
    }

    /// <summary>
    /// A best/best.json that cannot be parsed was refused as another run's best/ with the advice to resume the run in
    /// the folder from its own checkpoint, which it does not have: the message now says why best/ was not taken for
    /// this resume's copy, and gives only advice that can be followed.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_damaged_best_note_in_the_folder_is_named_and_no_checkpoint_of_its_own_is_suggested(bool unfinishedCopy)
    {
        string from = temp["from"], into = temp["into"];
        Assert.Equal(0, TrainCommandTests.Train(from, "--steps", "2", "--eval-every", "2").ExitCode);
        string[] resume = ["train", "--resume", from, "--out", into, "--steps", "4", "--eval-every", "4"];
        if (unfinishedCopy)
        {
            Assert.Equal(2, WithCheckpointSaveFailing(resume).ExitCode);
        }
        else
        {
            CopyFolder(from, into, BestCheckpoint.Folder);
        }

        string note = Path.Combine(into, BestCheckpoint.Folder, BestCheckpoint.InfoFile);
        File.WriteAllText(note, "{\"step\": 2, \"val_lo");
        var before = Snapshot(into);
        var run = CliRun.Run(resume);

        run.AssertBadInput($"'{note}' is damaged", "Nothing was written and the run did not start: give it a new or empty folder.");
        Assert.DoesNotContain("from its own checkpoint", run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("another run's", run.Error, StringComparison.Ordinal);
        Assert.Equal(before, Snapshot(into));
    }

    /// <summary>
    /// A metrics.jsonl in the folder with lines that are not records (no run writes them, nor a resume stopped before
    /// its first checkpoint there) was refused as "another run's metrics.jsonl", though it may be this resume's own
    /// copy, damaged: the message now names the damaged file and gives only advice that can be followed.
    /// </summary>
    [Theory]
    [InlineData(true, "not a record\n")]
    [InlineData(false, "not a record\n")]
    [InlineData(true, "\0\0\0\0\n{\"step\": 3}\n")]
    [InlineData(false, "{\"step\": 1, \"loss\": 1}\nnot a record\n{\"step\": 2, \"loss\": 1}\n")]
    [InlineData(true, "{}\n")] // JSON that was read as a record of step 0, not as damage
    [InlineData(false, "{\"step\": 0}\n")]
    public void A_damaged_metrics_log_in_the_folder_is_named_not_called_another_runs(bool unfinishedCopy, string text)
    {
        string from = temp["from"], into = temp["into"];
        Assert.Equal(0, TrainCommandTests.Train(from, "--steps", "2", "--eval-every", "2").ExitCode);
        string[] resume = ["train", "--resume", from, "--out", into, "--steps", "4", "--eval-every", "4"];
        if (unfinishedCopy)
        {
            Assert.Equal(2, WithCheckpointSaveFailing(resume).ExitCode);
        }

        Directory.CreateDirectory(into);
        string metrics = Path.Combine(into, MetricsLog.FileName);
        File.WriteAllText(metrics, text);
        var before = Snapshot(into);
        var run = CliRun.Run(resume);

        run.AssertBadInput($"'{metrics}' is damaged", "Nothing was written and the run did not start: give it a new or empty folder.");
        Assert.DoesNotContain("from its own checkpoint", run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("another run's", run.Error, StringComparison.Ordinal);
        Assert.Equal(before, Snapshot(into));
    }

    /// <summary>
    /// A metrics.jsonl whose only line is cut short is what a run killed while writing its first line leaves (in B, a
    /// fresh run; in A, a resume of A after its log was removed), as a last line cut short after records is. It was
    /// called damaged, "which no run writes", when B was refused; it is now taken as a kill leaves it, B's as
    /// another run's log.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_metrics_log_whose_only_line_a_kill_cut_short_is_not_called_damaged(bool inFrom)
    {
        string from = temp["from"], other = temp["other"], into = temp["into"];
        Assert.Equal(0, TrainCommandTests.Train(from, "--steps", "2", "--eval-every", "2").ExitCode);
        const string cut = "{\"step\":3,\"loss\":2.5,\"val_lo";
        Directory.CreateDirectory(into);
        if (inFrom)
        {
            File.WriteAllText(Path.Combine(from, MetricsLog.FileName), cut);
            Assert.Equal(0, TrainCommandTests.Train(other, "--steps", "4", "--eval-every", "2", "--seed", "9").ExitCode);
            CopyFolder(other, into, MetricsLog.FileName);
        }
        else
        {
            File.WriteAllText(Path.Combine(into, MetricsLog.FileName), cut);
        }

        var before = Snapshot(into);
        var run = CliRun.Run("train", "--resume", from, "--out", into, "--steps", "4", "--eval-every", "4");

        run.AssertBadInput($"'{into}' holds another run's metrics.jsonl", "Nothing was written and the run did not start: give it a new or empty folder.");
        Assert.DoesNotContain("damaged", run.Error, StringComparison.Ordinal);
        Assert.Equal(before, Snapshot(into));
    }

    /// <summary>
    /// A's metrics.jsonl damaged after a resume into B stopped before its first checkpoint there: B's copy no longer
    /// matched A's lines, and B was refused as holding "another run's metrics.jsonl", though it is this resume's copy
    /// and the file at fault is A's. The refusal now names A's file as the damaged one, and B's only where it is too.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_damaged_metrics_log_in_the_folder_resumed_from_is_named_as_that_folders(bool intoDamagedToo)
    {
        string from = temp["from"], into = temp["into"];
        Assert.Equal(0, TrainCommandTests.Train(from, "--steps", "2", "--eval-every", "2").ExitCode);
        string[] resume = ["train", "--resume", from, "--out", into, "--steps", "4", "--eval-every", "4"];
        Assert.Equal(2, WithCheckpointSaveFailing(resume).ExitCode);

        // A line turned into one no run writes: step 1's in A (and step 2's in B, so that the two still differ).
        string theirs = Path.Combine(from, MetricsLog.FileName), mine = Path.Combine(into, MetricsLog.FileName);
        foreach (var (metrics, line) in intoDamagedToo ? [(theirs, 0), (mine, 1)] : new[] { (theirs, 0) })
        {
            File.WriteAllLines(metrics, File.ReadAllLines(metrics).Select((l, i) => i == line ? "not a record" : l));
        }

        var (beforeFrom, beforeInto) = (Snapshot(from), Snapshot(into));
        var run = CliRun.Run(resume);

        string named = intoDamagedToo ? $"'{mine}' and '{theirs}' are damaged: they hold" : $"'{theirs}' is damaged: it holds";
        run.AssertBadInput($"'{into}' holds metrics.jsonl, best/, not taken for what this resume left there when it was stopped ({named} lines that are not records of a step, or steps out of order, which no run writes)",
            "Nothing was written and the run did not start: give it a new or empty folder.");
        Assert.DoesNotContain("another run's", run.Error, StringComparison.Ordinal);
        Assert.Equal(beforeFrom, Snapshot(from));
        Assert.Equal(beforeInto, Snapshot(into));
    }

    /// <summary>
    /// The refusal quotes why a damaged file was not taken for this resume's copy: the message of the damaged file was
    /// cut at its first ". ", which for a folder named "run. v2" fell inside the quoted path, so the user saw
    /// "('/.../run)" and neither the file nor what is wrong with it.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_damaged_file_in_a_folder_whose_name_holds_a_full_stop_is_named_whole(bool note)
    {
        string from = temp["from"], into = temp["run. v2"];
        Assert.Equal(0, TrainCommandTests.Train(from, "--steps", "2", "--eval-every", "2").ExitCode);
        string file = note ? Path.Combine(into, BestCheckpoint.Folder, BestCheckpoint.InfoFile) : Path.Combine(into, MetricsLog.FileName);
        if (note)
        {
            CopyFolder(from, into, BestCheckpoint.Folder);
        }

        Directory.CreateDirectory(into);
        File.WriteAllText(file, note ? "{\"step\": 2, \"val_lo" : "not a record\n");
        var run = CliRun.Run("train", "--resume", from, "--out", into, "--steps", "4", "--eval-every", "4");

        string why = note ? "it is not JSON of a whole step and a finite validation loss" : "it holds lines that are not records of a step, or steps out of order, which no run writes";
        run.AssertBadInput($"not taken for what this resume left there when it was stopped ('{file}' is damaged: {why}): ", "Nothing was written and the run did not start: give it a new or empty folder.");
    }

    [Fact]
    public void A_folder_with_a_checkpoint_of_its_own_is_told_to_resume_from_it()
    {
        string from = temp["from"], other = temp["other"];
        Assert.Equal(0, TrainCommandTests.Train(from, "--steps", "2", "--eval-every", "2").ExitCode);
        Assert.Equal(0, TrainCommandTests.Train(other, "--steps", "2", "--eval-every", "2", "--seed", "9").ExitCode);
        var run = CliRun.Run("train", "--resume", from, "--out", other, "--steps", "4", "--eval-every", "2");
        run.AssertBadInput($"'{other}' holds another run's", $"or resume the run in '{other}' from its own checkpoint.");
    }

    [Theory]
    [InlineData("metrics.jsonl", true)]
    [InlineData("best", false)]
    [InlineData("best.json", true)]
    public void An_unfinished_copy_that_cannot_be_read_is_the_read_error_naming_the_file_not_another_run(string unreadable, bool permission)
    {
        string from = temp["from"], into = temp["into"];
        Assert.Equal(0, TrainCommandTests.Train(from, "--steps", "2", "--eval-every", "2").ExitCode);
        string[] resume = ["train", "--resume", from, "--out", into, "--steps", "4", "--eval-every", "4"];
        Assert.Equal(2, WithCheckpointSaveFailing(resume).ExitCode);

        // The copy left in `into` is this resume's (the same command would redo it), but one of its files cannot be read.
        // best.json is read as a resume in place reads it: its failure was worded for one (the checkpoint "untouched").
        string file = unreadable == "best" ? CheckpointStore.ModelFile : unreadable;
        string folder = unreadable == MetricsLog.FileName ? into : Path.Combine(into, BestCheckpoint.Folder);
        var files = new TrainReadErrorTests.ReadFails(file, permission, folder);
        string path = Path.Combine(folder, file);
        var (beforeFrom, beforeInto) = (Snapshot(from), Snapshot(into));
        CliRun run;
        using (CheckpointFiles.Use(files))
        {
            run = CliRun.Run(resume);
        }

        run.AssertBadInput($"cannot read '{path}', checking whether '{into}' holds what this resume left there when it was stopped: ",
            "Nothing was written and the run did not start.");
        Assert.NotNull(files.Thrown);
        Assert.DoesNotContain("holds another run", run.Error, StringComparison.Ordinal);
        Assert.Equal(beforeFrom, Snapshot(from));
        Assert.Equal(beforeInto, Snapshot(into));
    }

    [Fact]
    public void A_best_checkpoint_that_fails_to_read_while_copied_is_one_line_and_leaves_no_best_folder()
    {
        string from = temp["from"], into = temp["into"];
        Assert.Equal(0, TrainCommandTests.Train(from, "--steps", "2", "--eval-every", "2").ExitCode);
        Directory.CreateDirectory(into);
        var before = Snapshot(from);

        // Its header reads (the note's step is checked against it), then the disk fails halfway through the copy.
        var files = new TrainReadErrorTests.ReadFails(CheckpointStore.ModelFile, permission: false, Path.Combine(from, BestCheckpoint.Folder));
        CliRun run;
        using (CheckpointFiles.Use(files))
        {
            run = CliRun.Run("train", "--resume", from, "--out", into, "--steps", "4", "--eval-every", "2");
        }

        string path = Path.Combine(from, BestCheckpoint.Folder, CheckpointStore.ModelFile);
        run.AssertBadInput($"cannot read '{path}', copying the best checkpoint so far into the resumed run's folder: an I/O error", $"Nothing was written: '{from}' is untouched, and the run did not start.");
        Assert.NotNull(files.Thrown);
        Assert.Equal(before, Snapshot(from));
        Assert.Empty(Directory.GetFileSystemEntries(into));
    }

    [Fact]
    public void A_metrics_jsonl_that_cannot_be_read_is_one_line_and_the_copy_of_best_goes_again()
    {
        string from = temp["from"], into = temp["into"];
        Assert.Equal(0, TrainCommandTests.Train(from, "--steps", "2", "--eval-every", "2").ExitCode);
        Directory.CreateDirectory(into);
        var before = Snapshot(from);

        var files = new TrainReadErrorTests.ReadFails(MetricsLog.FileName, permission: true, from);
        CliRun run;
        using (CheckpointFiles.Use(files))
        {
            run = CliRun.Run("train", "--resume", from, "--out", into, "--steps", "4", "--eval-every", "2");
        }

        run.AssertBadInput($"cannot read '{Path.Combine(from, MetricsLog.FileName)}', resuming from the checkpoint of step 2: permission denied.", "the run did not start");
        Assert.NotNull(files.Thrown);
        Assert.Equal(before, Snapshot(from));
        Assert.Empty(Directory.GetFileSystemEntries(into));
    }

    /// <summary>The real file system, counting the opens of each file read and listing the files created.</summary>
    private sealed class CountedReads : IFileOperations
    {
        private readonly Dictionary<string, int> opened = [];

        public List<string> Created { get; } = [];

        public int Opened(string path) => opened.GetValueOrDefault(Path.GetFullPath(path));

        public FileStream OpenRead(string path)
        {
            opened[Path.GetFullPath(path)] = Opened(path) + 1;
            return FileOperations.Real.OpenRead(path);
        }

        public Stream Create(string path, long size)
        {
            Created.Add(path);
            return FileOperations.Real.Create(path, size);
        }

        public void Move(string from, string to) => FileOperations.Real.Move(from, to);

        public void Delete(string path) => FileOperations.Real.Delete(path);
    }

    // The resumed run in `into` ended as the one in `whole`: checkpoint, best/, metrics.jsonl's steps, losses and
    // evaluations, and summary.json.
    // The resume run with the disk full at the model file's second create: after the copy of the checkpoint it resumes from, as it saves its own.
    private static CliRun WithCheckpointSaveFailing(string[] resume)
    {
        using (CheckpointFiles.Use(new CreateFails(CheckpointStore.ModelFile, diskFull: true, failingCreate: 2)))
        {
            return CliRun.Run(resume);
        }
    }

    private static void AssertSameRun(string whole, string into)
    {
        Assert.Equal(Bytes(whole, CheckpointStore.ModelFile), Bytes(into, CheckpointStore.ModelFile));
        foreach (string file in new[] { BestCheckpoint.InfoFile, CheckpointStore.ModelFile, CheckpointStore.ConfigFile })
        {
            Assert.Equal(Bytes(whole, BestCheckpoint.Folder, file), Bytes(into, BestCheckpoint.Folder, file));
        }

        var expected = MetricsLog.Read(Path.Combine(whole, MetricsLog.FileName));
        var actual = MetricsLog.Read(Path.Combine(into, MetricsLog.FileName));
        Assert.Equal(expected.Select(r => (r.Step, r.Loss, r.ValLoss, r.GradNorm)), actual.Select(r => (r.Step, r.Loss, r.ValLoss, r.GradNorm)));
        foreach (string key in new[] { "best_step", "best_val_loss", "final_val_loss", "stopped_early", "steps", "start_step", "initial_val_loss", "tokens_trained" })
        {
            Assert.Equal(Summary(whole).GetProperty(key).GetRawText(), Summary(into).GetProperty(key).GetRawText());
        }
    }

    // How many steps metrics.jsonl lists; 0 while it is missing or being replaced.
    private static int Steps(string metrics)
    {
        try
        {
            return File.Exists(metrics) ? MetricsLog.Read(metrics).Count : 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    // The steps and validation losses of metrics.jsonl's evaluations.
    private static List<(long Step, double? ValLoss)> ValLosses(string dir) =>
        [.. MetricsLog.Read(Path.Combine(dir, MetricsLog.FileName)).Where(r => r.ValLoss is not null).Select(r => (r.Step, r.ValLoss))];

    private static string Bytes(params string[] path) => Convert.ToHexString(File.ReadAllBytes(Path.Combine(path)));

    private static JsonElement Summary(string dir) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, RunSummary.FileName))).RootElement;

    // Every file of the folder with its bytes in hex.
    private static Dictionary<string, string> Snapshot(string folder) =>
        Directory.GetFiles(folder, "*", SearchOption.AllDirectories).ToDictionary(f => Path.GetRelativePath(folder, f), f => Convert.ToHexString(File.ReadAllBytes(f)));

    // The files of a folder (or only those of the entry named), lock files left out.
    private static void CopyFolder(string from, string to, string? only = null)
    {
        foreach (string file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(from, file);
            if (relative.StartsWith(".xent.lock", StringComparison.Ordinal) || (only is not null && relative.Split(Path.DirectorySeparatorChar)[0] != only))
            {
                continue;
            }

            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(to, relative))!);
            File.Copy(file, Path.Combine(to, relative));
        }
    }
}
