using System.Text.Json;
using Xent.Cli.Commands;
using Xent.Cli.IO;
using Xent.Tests.Training;
using Xent.Training;
using Xent.Training.Checkpoints;
using Xent.Training.Data;
using Xent.Training.Runs;

namespace Xent.Tests.Cli;

/// <summary>
/// `xent train` whose checkpoint save meets an I/O error (here a full disk): exit 2 and one line in our words naming
/// model.safetensors, not its temporary file, with no stack trace and no temporary file left. So do its other writes:
/// summary.json, metrics.jsonl cut back on a resume or appended to, the lock's owner file, best/, best.json and loss.png.
/// </summary>
public sealed class TrainSaveErrorTests : IDisposable
{
    private const int NoSpace = 28;

    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public void A_full_disk_while_the_checkpoint_is_saved_is_one_line_naming_the_checkpoint_file()
    {
        string dir = temp["run"];
        CliRun run;
        using (CheckpointFiles.Use(new ModelFileFails()))
        {
            run = TrainCommandTests.Train(dir, "--steps", "1", "--eval-every", "10");
        }

        string model = Path.Combine(dir, CheckpointStore.ModelFile);
        run.AssertBadInput($"cannot write '{model}', saving the checkpoint of step 1: the disk is full.", "Nothing was saved");
        Assert.DoesNotContain("xent-tmp", run.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(model));
        Assert.DoesNotContain(Directory.Exists(dir) ? Directory.GetFiles(dir) : [], f => TemporaryFiles.IsTemporary(Path.GetFileName(f)));
    }

    [Fact]
    public void A_full_disk_while_a_metrics_line_is_appended_stops_the_run_with_one_line_and_it_resumes()
    {
        string dir = temp["run"];
        string path = Path.Combine(dir, MetricsLog.FileName);
        var files = new AppendFails(MetricsLog.FileName, lines: 3);
        CliRun run;
        using (CheckpointFiles.Use(files))
        {
            run = TrainCommandTests.Train(dir, "--steps", "5", "--eval-every", "2");
        }

        run.AssertBadInput($"cannot write '{path}', adding step 4: the disk is full. metrics.jsonl holds steps 1 to 3. "
            + $"The run stopped at step 4: its last checkpoint (step 2) in '{dir}' is not affected.", "the disk is full");
        Assert.NotNull(files.Thrown);
        Assert.Equal([1L, 2L, 3L], MetricsLog.Read(path).Select(r => r.Step));
        Assert.Equal(2, CheckpointStore.LoadConfig(dir).Step);
        Assert.False(File.Exists(Path.Combine(dir, RunSummary.FileName)));

        // The resume cuts the log back to the checkpoint's step and finishes the run.
        var resumed = CliRun.Run("train", "--resume", dir, "--steps", "5", "--eval-every", "2");
        Assert.True(resumed.ExitCode == 0, resumed.Error);
        Assert.Equal([1L, 2L, 3L, 4L, 5L], MetricsLog.Read(path).Select(r => r.Step));
    }

    public static TheoryData<string, bool> Places => new()
    {
        { RunSummary.FileName, true },
        { RunSummary.FileName, false },
        { MetricsLog.FileName, true },
        { MetricsLog.FileName, false },
        { RunFolderLock.OwnerFile, true },
        { RunFolderLock.OwnerFile, false },
        { BestCheckpoint.InfoFile, true },
        { BestCheckpoint.InfoFile, false },
        { BestCheckpoint.Folder, true },
        { BestCheckpoint.Folder, false },
        { LossPlot.FileName, true },
        { LossPlot.FileName, false },
    };

    [Theory]
    [MemberData(nameof(Places))]
    public void A_full_disk_or_no_permission_writing_the_run_s_other_files_is_one_line_naming_the_file(string name, bool diskFull)
    {
        string dir = temp["run"];
        string[] args = ["--steps", "1", "--eval-every", name is BestCheckpoint.InfoFile or BestCheckpoint.Folder ? "1" : "10"];
        if (name == MetricsLog.FileName)
        {
            // A resume from step 1 must drop the later line a longer run left behind.
            Assert.Equal(0, TrainCommandTests.Train(dir, args).ExitCode);
            File.AppendAllText(Path.Combine(dir, MetricsLog.FileName),
                JsonSerializer.Serialize(new MetricRecord { Step = 5, Loss = 1, LearningRate = 1e-3 }, TrainingJson.Default.MetricRecord) + "\n");
        }

        // The owner file: its second creation, when the run says what it is (the first is the lock taken).
        var files = new CreateFails(name, diskFull, name == RunFolderLock.OwnerFile ? 2 : null);
        CliRun run;
        using (CheckpointFiles.Use(files))
        using (OutputFiles.Use(files))
        {
            run = name == MetricsLog.FileName
                ? CliRun.Run("train", "--resume", dir, "--steps", "2", "--eval-every", "10")
                : TrainCommandTests.Train(dir, args);
        }

        string problem = diskFull ? "the disk is full" : "permission denied";
        string expected = name switch
        {
            RunSummary.FileName => $"cannot write '{Path.Combine(dir, name)}', writing the run's summary: {problem}. The training is over",
            MetricsLog.FileName => $"cannot write '{Path.Combine(dir, name)}', cutting it back to step 1 to resume from the checkpoint: {problem}. Nothing was replaced",
            RunFolderLock.OwnerFile => $"cannot write '{Path.Combine(dir, name)}', saying which run holds the folder: {problem}. The run did not start",
            BestCheckpoint.InfoFile => $"cannot write '{Path.Combine(dir, BestCheckpoint.Folder, name)}', noting the best checkpoint (step 1, validation loss ",
            LossPlot.FileName => $"cannot write '{Path.Combine(dir, name)}', drawing the loss curve: {problem}. The run is over and its checkpoint of step 1, metrics.jsonl and summary.json are saved; loss.png was not written.",
            _ => $"cannot create the folder '{Path.Combine(dir, name)}': {problem}. The run's own checkpoint of step 1 is saved in '",
        };
        run.AssertBadInput(expected, problem);
        Assert.NotNull(files.Thrown);
        Assert.DoesNotContain("xent-tmp", run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(Directory.Exists(dir) ? Directory.GetFiles(dir, "*", SearchOption.AllDirectories) : [], f => TemporaryFiles.IsTemporary(Path.GetFileName(f)));
    }

    /// <summary>The real file system, except that creating model.safetensors' temporary file fails as a full disk does.</summary>
    private sealed class ModelFileFails : IFileOperations
    {
        public Stream Create(string path, long size) =>
            Path.GetFileName(path).StartsWith($".{CheckpointStore.ModelFile}.", StringComparison.Ordinal)
                ? throw new IOException($"No space left on device : '{path}'", NoSpace)
                : FileOperations.Real.Create(path, size);

        public void Move(string from, string to) => FileOperations.Real.Move(from, to);

        public void Delete(string path) => FileOperations.Real.Delete(path);
    }
}
