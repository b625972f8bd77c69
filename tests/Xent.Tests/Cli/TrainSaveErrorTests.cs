using Xent.Training.Checkpoints;

namespace Xent.Tests.Cli;

/// <summary>
/// `xent train` whose checkpoint save meets an I/O error (here a full disk): exit 2 and one line in our words naming
/// model.safetensors, not its temporary file, with no stack trace and no temporary file left.
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
