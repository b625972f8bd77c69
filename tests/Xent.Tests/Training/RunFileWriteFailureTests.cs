using System.Text.Json.Nodes;
using Xent.Training.Checkpoints;
using Xent.Training.Data;
using Xent.Training.Runs;
using static Xent.Tests.Training.TinyCheckpoint;

namespace Xent.Tests.Training;

/// <summary>
/// The run's other writes that meet an I/O error (a full disk, no permission) are one message in our words, as a
/// checkpoint save is (CheckpointSaveFailureTests): summary.json, metrics.jsonl cut back on a resume, opened or
/// appended to, the lock's owner file (<see cref="RunFolderLock.Describe"/>), best.json and the best/ folder. Each names the file or folder meant,
/// not a temporary one, says what went wrong and what the folder holds now, keeps the error as the inner exception,
/// leaves no temporary file and leaves the file it was replacing as it was.
/// </summary>
public sealed class RunFileWriteFailureTests : IDisposable
{
    private readonly string testDir = Directory.CreateTempSubdirectory("xent-run-fail-").FullName;

    public void Dispose()
    {
        if (Directory.Exists(testDir))
        {
            Directory.Delete(testDir, recursive: true);
        }
    }

    public static TheoryData<bool> DiskFullOrNoPermission => new() { true, false };

    private static string Problem(bool diskFull) => diskFull ? "the disk is full" : "permission denied";

    [Theory]
    [MemberData(nameof(DiskFullOrNoPermission))]
    public void A_summary_that_cannot_be_written_names_summary_json_and_says_the_run_is_saved(bool diskFull)
    {
        string path = Path.Combine(testDir, RunSummary.FileName);
        File.WriteAllText(path, "{}\n");
        var files = new CreateFails(RunSummary.FileName, diskFull);

        var e = Failing(files, () => RunSummary.Write(testDir, new JsonObject { ["status"] = "completed" }));

        Assert.Same(files.Thrown, e.InnerException);
        Assert.Equal($"cannot write '{path}', writing the run's summary: {Problem(diskFull)}. The training is over and its checkpoint and metrics.jsonl "
            + "are saved; summary.json was not written (the earlier summary.json there is as it was).", e.Message);
        Assert.Equal("{}\n", File.ReadAllText(path));
        Assert.Empty(Temporaries(testDir));
    }

    [Theory]
    [MemberData(nameof(DiskFullOrNoPermission))]
    public void A_metrics_log_that_cannot_be_cut_back_names_metrics_jsonl_and_says_the_run_did_not_start(bool diskFull)
    {
        string path = Path.Combine(testDir, MetricsLog.FileName);
        using (var log = MetricsLog.Open(testDir, keepThroughStep: 0))
        {
            for (int step = 1; step <= 3; step++)
            {
                log.Append(new MetricRecord { Step = step, Loss = 3.0 / step, LearningRate = 1e-3 });
            }
        }

        byte[] before = File.ReadAllBytes(path);
        var files = new CreateFails(MetricsLog.FileName, diskFull);

        var e = Failing(files, () => MetricsLog.Open(testDir, keepThroughStep: 2).Dispose());

        Assert.Same(files.Thrown, e.InnerException);
        Assert.Equal($"cannot write '{path}', cutting it back to step 2 to resume from the checkpoint: {Problem(diskFull)}. "
            + "Nothing was replaced: metrics.jsonl is as it was and the checkpoint is untouched; the run did not start.", e.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Empty(Temporaries(testDir));
    }

    /// <summary>
    /// A resume replaces a log that holds all the checkpoint's steps but does not end cleanly; where that failed, the
    /// message said "dropping a last line cut short" whatever it was dropping: it now says what the log held.
    /// </summary>
    [Theory]
    [InlineData("{0}\nnot a record\n{1}\n{2}\n", "dropping 1 unreadable line")]
    [InlineData("{0}\n{1}\nnull\n{2}\n\0\0\0\n", "dropping 2 unreadable lines")]
    [InlineData("{0}\n{1}\n{2}\n{{\"st", "dropping a last line cut short")]
    [InlineData("{0}\nnull\n{1}\n{2}\n{{\"st", "dropping 1 unreadable line and a last line cut short")]
    [InlineData("{0}\n{1}\n{2}", "ending its last line with the newline it lacks")]
    public void A_metrics_log_that_cannot_be_replaced_on_resuming_says_what_it_was_dropping(string layout, string doing)
    {
        string path = Path.Combine(testDir, MetricsLog.FileName);
        using (var log = MetricsLog.Open(testDir, keepThroughStep: 0))
        {
            for (int step = 1; step <= 3; step++)
            {
                log.Append(new MetricRecord { Step = step, Loss = 3.0 / step, LearningRate = 1e-3 });
            }
        }

        string[] lines = File.ReadAllLines(path);
        File.WriteAllText(path, string.Format(System.Globalization.CultureInfo.InvariantCulture, layout, lines[0], lines[1], lines[2]));
        byte[] before = File.ReadAllBytes(path);
        var files = new CreateFails(MetricsLog.FileName, diskFull: true);

        var e = Failing(files, () => MetricsLog.Open(testDir, keepThroughStep: 3).Dispose());

        Assert.Same(files.Thrown, e.InnerException);
        Assert.Equal($"cannot write '{path}', {doing}: the disk is full. "
            + "Nothing was replaced: metrics.jsonl is as it was and the checkpoint is untouched; the run did not start.", e.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Empty(Temporaries(testDir));
    }

    public static TheoryData<bool, bool> DiskFullOrNoPermissionCutOrNot => new() { { true, false }, { false, false }, { true, true } };

    [Theory]
    [MemberData(nameof(DiskFullOrNoPermissionCutOrNot))]
    public void A_metrics_line_that_cannot_be_appended_names_metrics_jsonl_and_the_steps_it_holds(bool diskFull, bool stuck)
    {
        string path = Path.Combine(testDir, MetricsLog.FileName);
        var files = new AppendFails(MetricsLog.FileName, lines: 3, diskFull, stuck);
        TrainingInputException e;
        using (CheckpointFiles.Use(files))
        using (var log = MetricsLog.Open(testDir, keepThroughStep: 0))
        {
            for (int step = 1; step <= 3; step++)
            {
                log.Append(new MetricRecord { Step = step, Loss = 3.0 / step, LearningRate = 1e-3 });
            }

            e = Assert.Throws<TrainingInputException>(() => log.Append(new MetricRecord { Step = 4, Loss = 0.75, LearningRate = 1e-3 }));
            Assert.Equal([1L, 2L, 3L], log.Records.Select(r => r.Step));
        }

        // Half of step 4's line was written: cut off again, or (where that failed too) left for the next open to drop.
        Assert.Same(files.Thrown, e.InnerException);
        string cut = stuck ? ", and may end in part of the line of step 4, which a resume drops" : "";
        Assert.Equal($"cannot write '{path}', adding step 4: {Problem(diskFull)}. metrics.jsonl holds steps 1 to 3{cut}.", e.Message);
        Assert.Equal(stuck, !File.ReadAllText(path).EndsWith('\n'));
        Assert.Equal([1L, 2L, 3L], MetricsLog.Read(path).Select(r => r.Step));
        using (var resumed = MetricsLog.Open(testDir, keepThroughStep: 3))
        {
            Assert.Equal([1L, 2L, 3L], resumed.Records.Select(r => r.Step));
        }

        Assert.Equal(3, File.ReadAllLines(path).Length);
        Assert.EndsWith("\n", File.ReadAllText(path), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(DiskFullOrNoPermission))]
    public void A_metrics_log_that_cannot_be_opened_names_metrics_jsonl_and_says_the_run_did_not_start(bool diskFull)
    {
        string path = Path.Combine(testDir, MetricsLog.FileName);
        using (var log = MetricsLog.Open(testDir, keepThroughStep: 0))
        {
            log.Append(new MetricRecord { Step = 1, Loss = 3, LearningRate = 1e-3 });
            log.Append(new MetricRecord { Step = 2, Loss = 1.5, LearningRate = 1e-3 });
        }

        byte[] before = File.ReadAllBytes(path);
        var files = new AppendFails(MetricsLog.FileName, lines: -1, diskFull);

        var e = Failing(files, () => MetricsLog.Open(testDir, keepThroughStep: 2).Dispose());

        Assert.Same(files.Thrown, e.InnerException);
        Assert.Equal($"cannot write '{path}', opening it to add this run's steps: {Problem(diskFull)}. "
            + "metrics.jsonl holds steps 1 to 2 and the checkpoint is untouched; the run did not start.", e.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
    }

    [Theory]
    [MemberData(nameof(DiskFullOrNoPermission))]
    public void A_lock_description_that_cannot_be_written_names_the_owner_file(bool diskFull)
    {
        using var held = RunFolderLock.Acquire(testDir, "preparing");
        string path = Path.Combine(testDir, RunFolderLock.OwnerFile);
        string before = File.ReadAllText(path);
        var files = new CreateFails(RunFolderLock.OwnerFile, diskFull);

        var e = Failing(files, () => held.Describe("training 40 steps"));

        Assert.Same(files.Thrown, e.InnerException);
        Assert.Equal($"cannot write '{path}', saying which run holds the folder: {Problem(diskFull)}. "
            + $"The run did not start: nothing else in '{testDir}' was touched.", e.Message);
        Assert.Equal(before, File.ReadAllText(path));
        Assert.Empty(Temporaries(testDir));
    }

    [Theory]
    [MemberData(nameof(DiskFullOrNoPermission))]
    public void A_best_json_that_cannot_be_written_names_it_and_says_where_the_step_is_saved(bool diskFull)
    {
        string best = Path.Combine(testDir, BestCheckpoint.Folder);
        string path = Path.Combine(best, BestCheckpoint.InfoFile);
        BestCheckpoint.Save(testDir, Config(1), State(1), 2.5);
        string before = File.ReadAllText(path);
        var files = new CreateFails(BestCheckpoint.InfoFile, diskFull);

        var e = Failing(files, () => BestCheckpoint.Save(testDir, Config(2), State(2), 2.25));

        Assert.Same(files.Thrown, e.InnerException);
        Assert.Equal($"cannot write '{path}', noting the best checkpoint (step 2, validation loss 2.25): {Problem(diskFull)}. "
            + $"The checkpoint of step 2 is saved in '{testDir}' and in '{best}'; best.json was not replaced: it still gives the earlier best, step 1.", e.Message);
        Assert.Equal(before, File.ReadAllText(path));
        Assert.Equal(2, CheckpointStore.Load(best, Expected).Config.Step);
        Assert.Empty(Temporaries(best));
    }

    [Theory]
    [MemberData(nameof(DiskFullOrNoPermission))]
    public void A_best_folder_that_cannot_be_created_names_it_and_says_the_run_checkpoint_is_saved(bool diskFull)
    {
        string best = Path.Combine(testDir, BestCheckpoint.Folder);
        var files = new CreateFails(BestCheckpoint.Folder, diskFull);

        var e = Failing(files, () => BestCheckpoint.Save(testDir, Config(2), State(2), 2.25));

        Assert.Same(files.Thrown, e.InnerException);
        Assert.Equal($"cannot create the folder '{best}': {Problem(diskFull)}. The run's own checkpoint of step 2 is saved in '{testDir}'.", e.Message);
        Assert.False(Directory.Exists(best));
        Assert.Empty(Temporaries(testDir));
    }

    private static TrainingInputException Failing(IFileOperations files, Action write)
    {
        using (CheckpointFiles.Use(files))
        {
            return Assert.Throws<TrainingInputException>(write);
        }
    }

    private static string[] Temporaries(string folder) =>
        [.. Directory.GetFiles(folder).Select(f => Path.GetFileName(f)).Where(TemporaryFiles.IsTemporary)];

    private static SafeTensor[] Tensors(float offset) => TinyCheckpoint.Tensors(Config(1), offset);

    private static CheckpointState State(long step) => new(Tensors(step), Tensors(1000), Tensors(2000), step);
}
