using System.Text.RegularExpressions;
using Xent.Training.Checkpoints;
using Xent.Training.Data;

namespace Xent.Tests.Training;

/// <summary>
/// A save killed at any moment: the file-system seam records what is on disk before and after every file
/// operation and after every half of every write (as a kill -9 would leave it), and each recorded state must
/// load as the previous checkpoint or the new one, whole, with the next save cleaning up after the killed one.
/// </summary>
public sealed partial class CheckpointKillTests : IDisposable
{
    private readonly string testRoot = Directory.CreateTempSubdirectory("xent-kill-").FullName;

    public void Dispose() => Directory.Delete(testRoot, recursive: true);

    private static CheckpointConfig Config(long step) => new()
    {
        Model = new CheckpointModel { VocabSize = 3, ContextLength = 8, Layers = 1, Heads = 1, Dim = 64 },
        Tokenizer = "bytes",
        Seed = step,
        Step = step,
        Data = new CheckpointData { Source = "markov", CorpusSeed = 1, TrainTokens = 100, ValidationTokens = 10 },
        Training = new CheckpointTraining { Batch = 2, Seq = 8, TotalSteps = 10, LearningRate = 1e-3 },
    };

    private static IReadOnlyList<(string Name, int[] Shape)> Expected(CheckpointConfig c) =>
        [("wte", [c.Model.VocabSize, c.Model.Dim]), ("bias", [c.Model.Dim])];

    private static SafeTensor[] Tensors(CheckpointConfig c, float offset) =>
        Expected(c).Select((e, i) => new SafeTensor(e.Name, e.Shape,
            Enumerable.Range(0, e.Shape.Aggregate(1, (a, b) => a * b)).Select(k => offset + i * 100 + k).ToArray())).ToArray();

    private static void Save(string dir, long step) =>
        CheckpointStore.Save(dir, Config(step), Tensors(Config(step), step * 1000), Tensors(Config(step), 1), Tensors(Config(step), 2), step);

    [Fact]
    public void Killed_at_any_point_of_a_save_the_folder_holds_the_old_or_the_new_checkpoint_whole()
    {
        string dir = Path.Combine(testRoot, "live");
        Save(dir, 1);
        var recorder = new Recorder(dir);
        using (CheckpointFiles.Use(recorder))
        {
            Save(dir, 2);
        }

        Assert.True(recorder.States.Count > 10, $"only {recorder.States.Count} states recorded");
        int old = 0, fresh = 0;
        for (int i = 0; i < recorder.States.Count; i++)
        {
            string copy = Restore(recorder.States[i], i);
            Checkpoint k = CheckpointStore.Load(copy, Expected);
            Assert.True(k.Config.Step is 1 or 2, $"state {i}: step {k.Config.Step}");
            Assert.Equal(Tensors(Config(k.Config.Step), k.Config.Step * 1000)[0].Data, k.Weights["wte"].Data);
            Assert.Equal(k.Config.Step, k.Config.Seed);
            (k.Config.Step == 1 ? ref old : ref fresh)++;

            // The next run's save removes what the killed one left, and leaves a checkpoint read as saved.
            Save(copy, 3);
            Checkpoint next = CheckpointStore.Load(copy, Expected);
            Assert.Equal(3, next.Config.Step);
            Assert.Null(next.Note);
            Assert.Equal([CheckpointStore.ConfigFile, CheckpointStore.ModelFile], Directory.GetFiles(copy).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        }

        Assert.True(old > 0 && fresh > 0, $"{old} states with the old checkpoint, {fresh} with the new");
    }

    [Fact]
    public void Killed_during_the_first_save_the_folder_is_no_checkpoint_or_a_whole_one()
    {
        string dir = Path.Combine(testRoot, "first");
        Directory.CreateDirectory(dir);
        var recorder = new Recorder(dir);
        using (CheckpointFiles.Use(recorder))
        {
            Save(dir, 1);
        }

        for (int i = 0; i < recorder.States.Count; i++)
        {
            string copy = Restore(recorder.States[i], i);
            if (!CheckpointStore.Exists(copy))
            {
                var e = Assert.Throws<TrainingInputException>(() => CheckpointStore.Load(copy, Expected));
                Assert.Contains("is not a checkpoint", e.Message, StringComparison.Ordinal);
                continue;
            }

            Assert.Equal(1, CheckpointStore.Load(copy, Expected).Config.Step);
        }
    }

    /// <summary>Writes a recorded state into a fresh folder, temporary files renamed to a dead writer's pid.</summary>
    private string Restore(Dictionary<string, byte[]> state, int index)
    {
        string copy = Path.Combine(testRoot, $"state{index}");
        Directory.CreateDirectory(copy);
        foreach (var (name, bytes) in state)
        {
            File.WriteAllBytes(Path.Combine(copy, PidPattern().Replace(name, ".9999999-")), bytes);
        }

        return copy;
    }

    [GeneratedRegex(@"\.[0-9]+-(?=[0-9a-f]{32}\.xent-tmp$)")]
    private static partial Regex PidPattern();

    /// <summary>The real file system, recording every file's bytes around each operation and inside each write.</summary>
    private sealed class Recorder(string dir) : IFileOperations
    {
        public List<Dictionary<string, byte[]>> States { get; } = [];

        public void Record() =>
            States.Add(Directory.GetFiles(dir).ToDictionary(f => Path.GetFileName(f)!, File.ReadAllBytes));

        public Stream Create(string path, long size)
        {
            Record();
            var stream = FileOperations.Real.Create(path, size);
            Record();
            return new RecordingStream(stream, this);
        }

        public void Move(string from, string to)
        {
            Record();
            FileOperations.Real.Move(from, to);
            Record();
        }

        public void Delete(string path)
        {
            Record();
            FileOperations.Real.Delete(path);
            Record();
        }
    }

    /// <summary>Writes each buffer in two halves, recording the folder after each as a kill there would leave it.</summary>
    private sealed class RecordingStream(Stream inner, Recorder recorder) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => inner.Length;

        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            int half = buffer.Length / 2;
            inner.Write(buffer[..half]);
            inner.Flush();
            recorder.Record();
            inner.Write(buffer[half..]);
            inner.Flush();
            recorder.Record();
        }

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
