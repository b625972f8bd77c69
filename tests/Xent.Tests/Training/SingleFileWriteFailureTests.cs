using System.Text.Json.Nodes;
using Xent.Training.Checkpoints;
using Xent.Training.Data;
using Xent.Training.Runs;

namespace Xent.Tests.Training;

/// <summary>
/// summary.json, the lock's owner file and metrics.jsonl's cut-back copy are written whole through a temporary file
/// (WholeFiles): a write that fails (a folder in the way of the rename, a full disk) leaves no temporary file behind,
/// the earlier file as it was, and the failure itself to the caller as the inner exception of one in our words.
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
        var e = Assert.Throws<TrainingInputException>(() => RunSummary.Write(testDir, new JsonObject { ["status"] = "completed" }));
        Assert.IsType<FolderInTheWayException>(e.InnerException);
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
        var e = Assert.Throws<TrainingInputException>(() => held.Describe("training 40 steps"));
        Assert.IsType<FolderInTheWayException>(e.InnerException);
        Assert.Empty(Temporaries());
    }

    [Theory]
    [InlineData(0)] // creating the temporary file
    [InlineData(1)] // the rename, the kept records written whole
    public void A_metrics_log_that_cannot_be_cut_back_is_left_as_it_was_with_no_temporary(int failAt)
    {
        string path = Path.Combine(testDir, MetricsLog.FileName);
        WriteMetrics(steps: 3);
        byte[] before = File.ReadAllBytes(path);

        TrainingInputException e;
        using (CheckpointFiles.Use(new FailingFiles(failAt)))
        {
            // A resume from step 2 drops step 3 by replacing the file.
            e = Assert.Throws<TrainingInputException>(() => MetricsLog.Open(testDir, keepThroughStep: 2).Dispose());
        }

        Assert.Equal(FailingFiles.Message, e.InnerException!.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Empty(Temporaries());

        // Without the failure the same resume cuts the log back.
        using var log = MetricsLog.Open(testDir, keepThroughStep: 2);
        Assert.Equal([1L, 2L], log.Records.Select(r => r.Step));
        Assert.Equal([1L, 2L], MetricsLog.Read(path).Select(r => r.Step));
        Assert.Empty(Temporaries());
    }

    [Fact]
    public void A_clean_up_that_fails_too_does_not_hide_why_the_metrics_log_was_not_cut_back()
    {
        string path = Path.Combine(testDir, MetricsLog.FileName);
        WriteMetrics(steps: 3);
        byte[] before = File.ReadAllBytes(path);

        TrainingInputException e;
        using (CheckpointFiles.Use(new FailingFiles(failAt: 1, deleteFails: true)))
        {
            e = Assert.Throws<TrainingInputException>(() => MetricsLog.Open(testDir, keepThroughStep: 2).Dispose());
        }

        Assert.Equal(FailingFiles.Message, e.InnerException!.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
    }

    private void WriteMetrics(int steps)
    {
        using var log = MetricsLog.Open(testDir, keepThroughStep: 0);
        for (int step = 1; step <= steps; step++)
        {
            log.Append(new MetricRecord { Step = step, Loss = 3.0 / step, LearningRate = 1e-3 });
        }
    }

    /// <summary>
    /// The real file system, except that its operation number <paramref name="failAt"/> (0: the first create) fails
    /// as a full disk does, and, with <paramref name="deleteFails"/>, every delete fails (after which nothing is deleted).
    /// </summary>
    private sealed class FailingFiles(int failAt, bool deleteFails = false) : IFileOperations
    {
        public const string Message = "No space left on device";
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

        public void Delete(string path)
        {
            if (deleteFails)
            {
                throw new IOException("Device or resource busy");
            }

            FileOperations.Real.Delete(path);
        }

        private void Fail()
        {
            if (count++ == failAt)
            {
                throw new IOException(Message, 28);
            }
        }
    }
}
