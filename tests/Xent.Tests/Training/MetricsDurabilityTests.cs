using Xent.Training.Checkpoints;
using Xent.Training.Data;
using Xent.Training.Model;
using Xent.Training.Runs;

namespace Xent.Tests.Training;

/// <summary>
/// A checkpoint is fsynced when it is saved; metrics.jsonl's lines were only flushed to the operating system, so after
/// a power loss the checkpoint could be ahead of its metrics (a resume then lists no line for the steps between). Each
/// checkpoint's save now begins by forcing metrics.jsonl to disk, through its step.
/// </summary>
public sealed class MetricsDurabilityTests : IDisposable
{
    private readonly string testDir = Directory.CreateTempSubdirectory("xent-durable-").FullName;

    public void Dispose() => Directory.Delete(testDir, recursive: true);

    [Fact]
    public void EveryCheckpointIsSavedAfterTheMetricsThroughItsStepAreOnDisk()
    {
        string dir = Path.Combine(testDir, "run");
        var files = new SyncedLines(dir, syncFails: false);
        using (CheckpointFiles.Use(files))
        {
            new TrainingLoop(Plan(dir)).Run(null, CancellationToken.None);
        }

        // Checkpoints of steps 2, 4 and the last, 5: the lines on disk at each are all those written, one a step.
        Assert.Equal([(2, 2), (4, 4), (5, 5)], files.AtCheckpoints);
    }

    [Fact]
    public void MetricsThatCannotBeForcedToDiskStopTheRunBeforeTheCheckpoint()
    {
        string dir = Path.Combine(testDir, "run");
        string path = Path.Combine(dir, MetricsLog.FileName);
        var files = new SyncedLines(dir, syncFails: true);
        TrainingInputException e;
        using (CheckpointFiles.Use(files))
        {
            e = Assert.Throws<TrainingInputException>(() => new TrainingLoop(Plan(dir)).Run(null, CancellationToken.None));
        }

        Assert.IsType<IOException>(e.InnerException);
        Assert.Equal($"cannot write '{path}', writing its lines to disk before the checkpoint of step 2: Input/output error. "
            + "metrics.jsonl holds steps 1 to 2, which may not all be on disk; the checkpoint of step 2 was not saved. "
            + "The run stopped at step 2: it saved no checkpoint before it.", e.Message);
        Assert.Empty(files.AtCheckpoints);
        Assert.False(File.Exists(Path.Combine(dir, CheckpointStore.ModelFile)));
    }

    private static TrainingPlan Plan(string dir)
    {
        var data = TokenDataset.Markov();
        return new TrainingPlan
        {
            Model = new GptConfig { VocabSize = data.Tokenizer.VocabSize, ContextLength = 16, Layers = 1, Dim = 16, Heads = 2 },
            Data = data,
            OutDir = dir,
            TotalSteps = 5,
            WarmupSteps = TrainingDefaults.Warmup(5),
            Batch = 2,
            EvalEvery = 2,
        };
    }

    /// <summary>
    /// The real file system, noting as each checkpoint's model file is created in the run folder how many lines
    /// metrics.jsonl holds and how many of them were on disk (the lines there at its last fsync); where
    /// <paramref name="syncFails"/>, the fsync of metrics.jsonl fails as a failing disk's does.
    /// </summary>
    private sealed class SyncedLines(string dir, bool syncFails) : IFileOperations
    {
        private const int InputOutputError = 5;

        private readonly string metrics = Path.Combine(dir, MetricsLog.FileName);
        private Stream? log;
        private int synced;

        public List<(int Written, int Synced)> AtCheckpoints { get; } = [];

        public Stream Create(string path, long size)
        {
            if (Path.GetDirectoryName(path) == dir && Path.GetFileName(path).StartsWith($".{CheckpointStore.ModelFile}.", StringComparison.Ordinal))
            {
                AtCheckpoints.Add((Lines(), synced));
            }

            return FileOperations.Real.Create(path, size);
        }

        public void Move(string from, string to) => FileOperations.Real.Move(from, to);

        public void Delete(string path) => FileOperations.Real.Delete(path);

        public Stream Append(string path)
        {
            var stream = FileOperations.Real.Append(path);
            if (path == metrics)
            {
                log = stream;
            }

            return stream;
        }

        public void FlushToDisk(Stream stream)
        {
            if (syncFails && ReferenceEquals(stream, log))
            {
                throw new IOException("Input/output error", InputOutputError);
            }

            FileOperations.Real.FlushToDisk(stream);
            if (ReferenceEquals(stream, log))
            {
                synced = Lines();
            }
        }

        private int Lines()
        {
            if (!File.Exists(metrics))
            {
                return 0;
            }

            using var reader = new StreamReader(new FileStream(metrics, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
            int lines = 0;
            while (reader.ReadLine() is not null)
            {
                lines++;
            }

            return lines;
        }
    }
}
