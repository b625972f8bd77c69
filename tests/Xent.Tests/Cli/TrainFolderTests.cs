using Xent.Training.Checkpoints;

namespace Xent.Tests.Cli;

/// <summary>
/// The run folder of `xent train`: one that cannot be created or written is refused first, in xent's words (never
/// .NET's), and a refused run leaves the folder as it found it (no lock file, no new empty folder).
/// </summary>
public sealed class TrainFolderTests : IDisposable
{
    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public void Resuming_a_folder_that_is_not_a_checkpoint_leaves_no_lock_file_in_it()
    {
        string plain = temp["plain"];
        Directory.CreateDirectory(plain);
        File.WriteAllText(Path.Combine(plain, "notes.txt"), "mine");
        CliRun.Run("train", "--resume", plain, "--steps", "100").AssertBadInput(plain, "is not a checkpoint");
        Assert.Equal(["notes.txt"], Directory.GetFileSystemEntries(plain).Select(Path.GetFileName));
    }

    [Fact]
    public void A_refused_run_leaves_no_folder_it_created()
    {
        string missing = temp["missing.txt"];
        string deep = Path.Combine(temp["new"], "run");
        CliRun.Run(["train", "--out", deep, "--text", missing, .. TrainCommandTests.Tiny, "--steps", "1"]).AssertBadInput(missing, "");
        Assert.False(Directory.Exists(temp["new"]), "the folders this run created are gone again");

        // A folder that existed keeps what it had, and no lock file.
        string existing = temp["existing"];
        Directory.CreateDirectory(existing);
        CliRun.Run(["train", "--out", existing, "--text", missing, .. TrainCommandTests.Tiny, "--steps", "1"]).AssertBadInput(missing, "");
        Assert.True(Directory.Exists(existing));
        Assert.Empty(Directory.GetFileSystemEntries(existing));
    }

    [Fact]
    public void A_lock_file_that_was_there_before_stays()
    {
        string dir = temp["locked-before"];
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, RunFolderLock.LockFile), "");
        RunFolderLock.Acquire(dir, "test").Abandon();
        Assert.Equal([RunFolderLock.LockFile], Directory.GetFileSystemEntries(dir).Select(Path.GetFileName));

        // Dispose (a run that trained) keeps the lock file it made: the folder is a run folder.
        string made = temp["made"];
        RunFolderLock.Acquire(made, "test").Dispose();
        Assert.Equal([RunFolderLock.LockFile], Directory.GetFileSystemEntries(made).Select(Path.GetFileName));
    }

    [Fact]
    public void An_empty_output_folder_name_is_refused_in_xents_words()
    {
        CliRun.Run("train", "--steps", "3", "--out", "").AssertBadInput("--out", "needs a folder name");
        CliRun.Run("train", "--steps", "3", "--resume", " ").AssertBadInput("--resume", "needs a folder name");
    }

    [Fact]
    public void An_output_folder_that_cannot_be_created_is_refused_before_anything_is_printed()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        // /proc takes no new files or folders, whoever asks (root included).
        string proc = $"/proc/xent-test-{Guid.NewGuid():N}";
        var run = CliRun.Run(["train", "--out", proc, .. TrainCommandTests.Tiny, "--steps", "1"]);
        run.AssertBadInput($"cannot create the folder '{proc}'", "the folder '/proc' does not accept new files");
        Assert.Equal("", run.Out);

        string file = temp["a-file"];
        File.WriteAllText(file, "x");
        string under = Path.Combine(file, "run");
        CliRun.Run(["train", "--out", under, .. TrainCommandTests.Tiny, "--steps", "1"]).AssertBadInput($"cannot create the folder '{under}'", "not a folder");
    }
}
