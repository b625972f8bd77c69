using System.Text.Json.Nodes;
using Xent.Training.Checkpoints;
using Xent.Training.Data;
using Xent.Training.Runs;

namespace Xent.Tests.Training;

/// <summary>
/// summary.json and the lock's owner file are written whole through a temporary file (WholeFiles): a write that
/// fails (here a folder in the way of the rename) leaves no temporary file behind.
/// </summary>
public sealed class SingleFileWriteFailureTests : IDisposable
{
    private readonly string testDir = Directory.CreateTempSubdirectory("xent-whole-").FullName;

    public void Dispose() => Directory.Delete(testDir, recursive: true);

    private string[] Temporaries() =>
        [.. Directory.GetFiles(testDir).Select(Path.GetFileName).Where(f => TemporaryFiles.IsTemporary(f!)).Select(f => f!)];

    [Fact]
    public void A_summary_that_cannot_be_renamed_into_place_leaves_no_temporary()
    {
        Directory.CreateDirectory(Path.Combine(testDir, RunSummary.FileName));
        Assert.ThrowsAny<IOException>(() => RunSummary.Write(testDir, new JsonObject { ["status"] = "completed" }));
        Assert.Empty(Temporaries());
        Assert.True(Directory.Exists(Path.Combine(testDir, RunSummary.FileName)));
    }

    [Fact]
    public void An_owner_file_that_cannot_be_written_leaves_no_temporary_and_no_lock()
    {
        Directory.CreateDirectory(Path.Combine(testDir, RunFolderLock.OwnerFile));
        var e = Assert.Throws<TrainingInputException>(() => RunFolderLock.Acquire(testDir, "xent train"));
        Assert.Contains("cannot write into the folder", e.Message, StringComparison.Ordinal);
        Assert.Empty(Temporaries());

        // Refused: the lock file it created went with it.
        Assert.False(File.Exists(Path.Combine(testDir, RunFolderLock.LockFile)));
    }

    [Fact]
    public void A_description_that_cannot_be_written_leaves_no_temporary()
    {
        using var held = RunFolderLock.Acquire(testDir, "preparing");
        string owner = Path.Combine(testDir, RunFolderLock.OwnerFile);
        File.Delete(owner);
        Directory.CreateDirectory(owner);
        Assert.ThrowsAny<IOException>(() => held.Describe("training 40 steps"));
        Assert.Empty(Temporaries());
    }
}
