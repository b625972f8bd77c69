using Xent.Training.Checkpoints;
using Xent.Training.Checkpoints.HuggingFace;

namespace Xent.Tests.Cli;

/// <summary>
/// xent export's output in trouble: an --out that cannot be a folder is refused in our words before the checkpoint
/// is read, and a failure while the two files are written leaves the earlier export whole (both files are written
/// before either is renamed into place), with no temporary file behind; a folder the export created goes again, and
/// one that existed stays with what it held.
/// </summary>
public sealed class ExportOutputErrorTests : IDisposable
{
    private readonly TempFolder dir = new();

    public void Dispose() => dir.Dispose();

    [Theory]
    [InlineData("", "--out is a file")]
    [InlineData("/", "--out is a file")]
    [InlineData("/sub", "is a file")]
    public void AnOutThatIsAFileIsRefusedBeforeTheCheckpointIsRead(string suffix, string problem)
    {
        File.WriteAllText(dir["file"], "mine");
        string output = dir["file"] + suffix;

        // No checkpoint exists: the message is about --out, so it was checked first.
        var run = CliRun.Run("export", "--checkpoint", dir["missing"], "--out", output);

        run.AssertBadInput(output, problem);
        Assert.DoesNotContain("already exists", run.Error, StringComparison.Ordinal);
        Assert.Equal("mine", File.ReadAllText(dir["file"]));
    }

    [Fact]
    public void AFolderInThePlaceOfAFileIsRefusedBeforeAnythingIsReplaced()
    {
        string run = dir["run"], hf = dir["hf"];
        Assert.Equal(0, TrainCommandTests.Train(run, "--steps", "1", "--eval-every", "10").ExitCode);
        Directory.CreateDirectory(hf);
        File.WriteAllText(Path.Combine(hf, Gpt2Checkpoint.ConfigFile), "old");
        Directory.CreateDirectory(Path.Combine(hf, Gpt2Checkpoint.ModelFile));

        CliRun.Run("export", "--checkpoint", run, "--out", hf).AssertBadInput(Gpt2Checkpoint.ModelFile, "a folder of that name is in the way");
        Assert.Equal("old", File.ReadAllText(Path.Combine(hf, Gpt2Checkpoint.ConfigFile)));
    }

    [Theory]
    [InlineData(0)] // creating model.safetensors' temporary file
    [InlineData(1)] // creating config.json's, model.safetensors' written whole
    [InlineData(2)] // the first rename, both written
    public void AFailureBeforeTheRenamesLeavesTheEarlierExportWhole(int failAt)
    {
        string first = dir["first"], second = dir["second"], hf = dir["hf"];
        Assert.Equal(0, TrainCommandTests.Train(first, "--steps", "1", "--eval-every", "10").ExitCode);
        Assert.Equal(0, CliRun.Run("train", "--out", second, "--batch", "2", "--seq", "16", "--layers", "2", "--dim", "16", "--heads", "2", "--steps", "1", "--eval-every", "10").ExitCode);
        Assert.Equal(0, CliRun.Run("export", "--checkpoint", first, "--out", hf).ExitCode);
        var before = Snapshot(hf);

        CliRun failed;
        using (CheckpointFiles.Use(new FailingFiles(failAt)))
        {
            failed = CliRun.Run("export", "--checkpoint", second, "--out", hf);
        }

        failed.AssertBadInput(hf, "the disk is full. Nothing was replaced: an earlier export there is untouched.");
        Assert.DoesNotContain("xent-tmp", failed.Error, StringComparison.Ordinal);
        Assert.Equal(before, Snapshot(hf));
        Assert.Equal(1, Gpt2Checkpoint.Load(hf).Config.Layers);

        // The same export without the failure replaces both files.
        Assert.Equal(0, CliRun.Run("export", "--checkpoint", second, "--out", hf).ExitCode);
        Assert.Equal(2, Gpt2Checkpoint.Load(hf).Config.Layers);
    }

    [Theory]
    [InlineData(0)] // creating model.safetensors' temporary file
    [InlineData(2)] // the first rename, both written
    [InlineData(3)] // the second rename, model.safetensors already in place
    public void AFailureInAFolderTheExportCreatedRemovesItAndTheFoldersAboveItThatItCreated(int failAt)
    {
        string run = dir["run"], hf = Path.Combine(dir["new"], "hf");
        Assert.Equal(0, TrainCommandTests.Train(run, "--steps", "1", "--eval-every", "10").ExitCode);

        CliRun failed;
        using (CheckpointFiles.Use(new FailingFiles(failAt)))
        {
            failed = CliRun.Run("export", "--checkpoint", run, "--out", hf);
        }

        failed.AssertBadInput(hf, $"the disk is full. Nothing was left: the folder '{hf}', created by this export, was removed again.");
        Assert.DoesNotContain("earlier", failed.Error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(dir["new"]));
    }

    [Fact]
    public void AFailureInAnEmptyFolderThatExistedLeavesTheFolder()
    {
        string run = dir["run"], hf = dir["hf"];
        Assert.Equal(0, TrainCommandTests.Train(run, "--steps", "1", "--eval-every", "10").ExitCode);
        Directory.CreateDirectory(hf);

        CliRun failed;
        using (CheckpointFiles.Use(new FailingFiles(0)))
        {
            failed = CliRun.Run("export", "--checkpoint", run, "--out", hf);
        }

        failed.AssertBadInput(hf, "the disk is full. Nothing was replaced");
        Assert.True(Directory.Exists(hf));
        Assert.Empty(Directory.GetFileSystemEntries(hf));
    }

    [Fact]
    public void AFolderThatCannotBeCreatedLeavesNoneOfTheFoldersAboveItThatWereMade()
    {
        string run = dir["run"], hf = Path.Combine(dir["a"], "b", "hf");
        Assert.Equal(0, TrainCommandTests.Train(run, "--steps", "1", "--eval-every", "10").ExitCode);

        CliRun failed;
        using (CheckpointFiles.Use(new FailingFiles(-1, folderFails: true)))
        {
            failed = CliRun.Run("export", "--checkpoint", run, "--out", hf);
        }

        failed.AssertBadInput($"cannot create the folder '{hf}'", "the disk is full");
        Assert.False(Directory.Exists(dir["a"]));
    }

    [Fact]
    public void ASecondRenameThatFailsSaysWhichFileIsNewAndWhichIsOld()
    {
        string first = dir["first"], second = dir["second"], hf = dir["hf"];
        Assert.Equal(0, TrainCommandTests.Train(first, "--steps", "1", "--eval-every", "10").ExitCode);
        Assert.Equal(0, CliRun.Run("train", "--out", second, "--batch", "2", "--seq", "16", "--layers", "2", "--dim", "16", "--heads", "2", "--steps", "1", "--eval-every", "10").ExitCode);
        Assert.Equal(0, CliRun.Run("export", "--checkpoint", first, "--out", hf).ExitCode);
        var before = Snapshot(hf);

        CliRun failed;
        using (CheckpointFiles.Use(new FailingFiles(3))) // both written, model.safetensors renamed into place
        {
            failed = CliRun.Run("export", "--checkpoint", second, "--out", hf);
        }

        string config = Path.Combine(hf, Gpt2Checkpoint.ConfigFile);
        failed.AssertBadInput($"cannot write '{config}': the disk is full.",
            "model.safetensors was already replaced by this export's, and config.json is still the earlier one: the folder's files no longer belong together; export again");
        Assert.DoesNotContain("xent-tmp", failed.Error, StringComparison.Ordinal);
        var after = Snapshot(hf);
        Assert.Equal(before.Keys.Order(StringComparer.Ordinal), after.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(before[Gpt2Checkpoint.ConfigFile], after[Gpt2Checkpoint.ConfigFile]);
        Assert.NotEqual(before[Gpt2Checkpoint.ModelFile], after[Gpt2Checkpoint.ModelFile]);
    }

    // Every file of the folder, temporary ones included, with a hash of its bytes.
    private static Dictionary<string, string> Snapshot(string folder) =>
        Directory.GetFiles(folder).ToDictionary(f => Path.GetFileName(f), f => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))));

    /// <summary>
    /// The real file system, except that its operation number <paramref name="failAt"/> (0: the first create) fails as
    /// a full disk does; with <paramref name="folderFails"/>, creating the output folder does (the folders above it made).
    /// </summary>
    private sealed class FailingFiles(int failAt, bool folderFails = false) : IFileOperations
    {
        private const int NoSpace = 28;
        private int count;

        public Stream Create(string path, long size)
        {
            Fail();
            return FileOperations.Real.Create(path, size);
        }

        public void Move(string from, string to)
        {
            Fail();
            FileOperations.Real.Move(from, to);
        }

        public void Delete(string path) => FileOperations.Real.Delete(path);

        public void CreateDirectory(string path)
        {
            Directory.CreateDirectory(folderFails ? Path.GetDirectoryName(Path.GetFullPath(path))! : path);
            if (folderFails)
            {
                throw new IOException("No space left on device", NoSpace);
            }
        }

        private void Fail()
        {
            if (count++ == failAt)
            {
                throw new IOException("No space left on device", NoSpace);
            }
        }
    }
}
