using Xent.Tests.Training;
using Xent.Training.Checkpoints;
using Xent.Training.Runs;

namespace Xent.Tests.Cli;

/// <summary>
/// `xent train` whose save of the best checkpoint fails mid-run (a full disk): the run stops with one line, exit 2. A
/// best/ that this save created is removed again, with what it had put there, so that no empty or half-written best/
/// is left looking like a checkpoint; a best/ that existed keeps its earlier checkpoint and note, byte for byte.
/// </summary>
public sealed class BestFolderSaveErrorTests : IDisposable
{
    private const int NoSpace = 28;

    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    // The file whose write fails, and whether its rename into place fails instead (config.json's: after model.safetensors').
    public static TheoryData<string, bool> Files => new()
    {
        { CheckpointStore.ModelFile, false },
        { CheckpointStore.ConfigFile, false },
        { CheckpointStore.ConfigFile, true },
        { BestCheckpoint.InfoFile, false },
    };

    [Theory]
    [MemberData(nameof(Files))]
    public void A_best_folder_created_by_a_failed_save_is_removed_again(string name, bool renaming)
    {
        string dir = temp["run"];
        string best = Path.Combine(dir, BestCheckpoint.Folder);
        CliRun run;
        using (CheckpointFiles.Use(new BestFileFails(name, renaming)))
        {
            run = TrainCommandTests.Train(dir, "--steps", "1", "--eval-every", "1");
        }

        run.AssertBadInput($"cannot write '{Path.Combine(best, name)}', ",
            $"the disk is full. Nothing was left: the folder '{best}', created by this save, was removed again. The run's own checkpoint of step 1 is saved in '{dir}'.");
        Assert.False(Directory.Exists(best));
        Assert.Equal(1, CheckpointStore.LoadConfig(dir).Step);
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void A_best_folder_that_existed_keeps_its_earlier_checkpoint(string name, bool renaming)
    {
        string dir = temp["run"];
        // At this learning rate the resumed step 2 is a new best, saved over the earlier one.
        Assert.Equal(0, TrainCommandTests.Train(dir, "--steps", "1", "--eval-every", "1", "--lr", "0.003").ExitCode);
        string best = Path.Combine(dir, BestCheckpoint.Folder);
        var before = Snapshot(best);
        Assert.Equal(1, BestCheckpoint.Read(dir)?.Step);

        var files = new BestFileFails(name, renaming);
        CliRun run;
        using (CheckpointFiles.Use(files))
        {
            run = CliRun.Run("train", "--resume", dir, "--steps", "2", "--eval-every", "1");
        }

        Assert.NotNull(files.Thrown);
        run.AssertBadInput($"cannot write '{Path.Combine(best, name)}', ", "the disk is full");
        Assert.DoesNotContain("removed again", run.Error, StringComparison.Ordinal);
        if (renaming)
        {
            // model.safetensors was replaced (the save's commit), as the message says: best/ holds step 2 whole.
            Assert.Contains("was already replaced", run.Error, StringComparison.Ordinal);
            Assert.Equal(2, CheckpointStore.LoadConfig(best).Step);
        }
        else if (name == BestCheckpoint.InfoFile)
        {
            Assert.Contains("it still gives the earlier best, step 1", run.Error, StringComparison.Ordinal);
            Assert.Equal(before[BestCheckpoint.InfoFile], Snapshot(best)[BestCheckpoint.InfoFile]);
        }
        else
        {
            Assert.Equal(before, Snapshot(best));
        }
    }

    // The folder's files and their bytes (in hex).
    private static Dictionary<string, string> Snapshot(string folder) =>
        Directory.GetFiles(folder).ToDictionary(f => Path.GetFileName(f), f => Convert.ToHexString(File.ReadAllBytes(f)));

    /// <summary>
    /// The real file system, except that creating the temporary file of best/'s <paramref name="name"/>, or where
    /// <paramref name="renaming"/> its rename into place, fails as a full disk does.
    /// </summary>
    private sealed class BestFileFails(string name, bool renaming) : IFileOperations
    {
        public Exception? Thrown { get; private set; }

        public Stream Create(string path, long size) =>
            !renaming && InBest(path) && Path.GetFileName(path).StartsWith($".{name}.", StringComparison.Ordinal)
                ? throw Fail(path)
                : FileOperations.Real.Create(path, size);

        public void Move(string from, string to)
        {
            if (renaming && InBest(to) && Path.GetFileName(to) == name)
            {
                throw Fail(to);
            }

            FileOperations.Real.Move(from, to);
        }

        public void Delete(string path) => FileOperations.Real.Delete(path);

        private static bool InBest(string path) => Path.GetFileName(Path.GetDirectoryName(path)) == BestCheckpoint.Folder;

        private Exception Fail(string path) => Thrown = new IOException($"No space left on device : '{path}'", NoSpace);
    }
}
