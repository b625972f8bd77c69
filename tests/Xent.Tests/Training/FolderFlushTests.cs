using Xent.Training.Checkpoints;
using Xent.Training.Data;

namespace Xent.Tests.Training;

/// <summary>
/// A save's files were fsynced, then renamed into place, but their folder was never fsynced: on ext4 or XFS a power
/// loss could then lose the renames themselves, leaving the earlier checkpoint or none. The folder is now flushed
/// once after the renames, and an I/O error there fails the save as a failed flush of a file does.
/// </summary>
public sealed class FolderFlushTests : IDisposable
{
    private readonly string testDir = Directory.CreateTempSubdirectory("xent-folder-flush-").FullName;

    public void Dispose() => Directory.Delete(testDir, recursive: true);

    private static CheckpointConfig Config(long step) => new()
    {
        Model = new CheckpointModel { VocabSize = 3, ContextLength = 8, Layers = 1, Heads = 1, Dim = 4 },
        Tokenizer = "bytes",
        Seed = 1,
        Step = step,
        Data = new CheckpointData { Source = "markov", CorpusSeed = 1, TrainTokens = 100, ValidationTokens = 10 },
        Training = new CheckpointTraining { Batch = 2, Seq = 8, TotalSteps = 10, LearningRate = 1e-3 },
    };

    private static void Save(string dir, long step)
    {
        SafeTensor[] tensors = [new SafeTensor("wte", [3, 4], new float[12])];
        CheckpointStore.Save(dir, Config(step), tensors, tensors, tensors, step);
    }

    [Fact]
    public void A_checkpoint_save_flushes_its_folder_once_after_both_renames()
    {
        string dir = Path.Combine(testDir, "run");
        Save(dir, 1);
        var files = new Recorder(flushFails: false);
        using (CheckpointFiles.Use(files))
        {
            Save(dir, 2);
        }

        string full = Path.GetFullPath(dir);
        Assert.Equal(
            [$"move {CheckpointStore.ModelFile}", $"move {CheckpointStore.ConfigFile}", $"flush folder {full}"],
            files.Events);
        Assert.Equal(2, CheckpointStore.LoadConfig(dir).Step);
    }

    [Fact]
    public void A_folder_that_cannot_be_flushed_fails_the_save_and_says_the_files_are_in_place()
    {
        string dir = Path.Combine(testDir, "run");
        Save(dir, 1);
        TrainingInputException e;
        using (CheckpointFiles.Use(new Recorder(flushFails: true)))
        {
            e = Assert.Throws<TrainingInputException>(() => Save(dir, 2));
        }

        Assert.IsType<IOException>(e.InnerException);
        Assert.Equal($"cannot write '{Path.Combine(dir, CheckpointStore.ConfigFile)}', saving the checkpoint of step 2: Input/output error. "
            + $"Both files were renamed into place, so '{dir}' holds the checkpoint of step 2, but it may not survive a power loss: check the disk.",
            e.Message);
        Assert.Equal(2, CheckpointStore.LoadConfig(dir).Step);
        Assert.DoesNotContain(Directory.GetFiles(dir), f => TemporaryFiles.IsTemporary(Path.GetFileName(f)));
    }

    [Fact]
    public void A_one_file_write_flushes_its_folder_and_words_a_failure_there()
    {
        string path = Path.Combine(testDir, "summary.json");
        var files = new Recorder(flushFails: false);
        using (CheckpointFiles.Use(files))
        {
            WholeFiles.WriteText(path, "{}\n");
        }

        Assert.Equal([$"move summary.json", $"flush folder {testDir}"], files.Events);
        TrainingInputException e;
        using (CheckpointFiles.Use(new Recorder(flushFails: true)))
        {
            e = Assert.Throws<TrainingInputException>(() => WholeFiles.WriteText(path, "{}\n",
                (error, at) => CheckpointSaveFailure.OfFile(error, at, "the run", "writing the run's summary", "summary.json is as it was.")));
        }

        Assert.Equal($"cannot write '{path}', writing the run's summary: Input/output error. "
            + "summary.json was renamed into place, but it may not survive a power loss: check the disk.", e.Message);
    }

    [Fact]
    public void The_real_flush_of_a_folder_succeeds_and_a_missing_folder_is_an_error()
    {
        FolderSync.Flush(testDir);
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            var e = Assert.Throws<IOException>(() => FolderSync.Flush(Path.Combine(testDir, "gone")));
            Assert.Equal(2, e.HResult);
            Assert.Contains(Path.Combine(testDir, "gone"), e.Message, StringComparison.Ordinal);
        }
    }

    /// <summary>The real file system, noting each rename and each folder flushed; the flush fails with EIO where told to.</summary>
    private sealed class Recorder(bool flushFails) : IFileOperations
    {
        public List<string> Events { get; } = [];

        public Stream Create(string path, long size) => FileOperations.Real.Create(path, size);

        public void Move(string from, string to)
        {
            FileOperations.Real.Move(from, to);
            Events.Add($"move {Path.GetFileName(to)}");
        }

        public void Delete(string path) => FileOperations.Real.Delete(path);

        public void FlushFolderToDisk(string folder)
        {
            if (flushFails)
            {
                throw new IOException("Input/output error", 5);
            }

            FileOperations.Real.FlushFolderToDisk(folder);
            Events.Add($"flush folder {folder}");
        }
    }
}
