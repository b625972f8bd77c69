using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Xent.Training.Checkpoints;
using Xent.Training.Data;

namespace Xent.Training.Runs;

/// <summary>One line of metrics.jsonl: the state after a training step.</summary>
public sealed record MetricRecord
{
    /// <summary>Optimizer steps done (1 after the first step).</summary>
    [JsonPropertyName("step")] public long Step { get; init; }

    /// <summary>Training loss of the step's batch (nats/token, before the update).</summary>
    [JsonPropertyName("loss")] public double Loss { get; init; }

    /// <summary>Validation loss after the step; null where none was measured.</summary>
    [JsonPropertyName("val_loss")] public double? ValLoss { get; init; }

    /// <summary>Learning rate of the step.</summary>
    [JsonPropertyName("lr")] public double LearningRate { get; init; }

    /// <summary>Training tokens per second of this step (forward, backward, update).</summary>
    [JsonPropertyName("tokens_per_s")] public double TokensPerSecond { get; init; }

    /// <summary>Global gradient norm before clipping.</summary>
    [JsonPropertyName("grad_norm")] public double GradNorm { get; init; }

    /// <summary>Processes that trained the step together (data parallel); 1 for one process.</summary>
    [JsonPropertyName("world_size")] public int WorldSize { get; init; } = 1;

    /// <summary>Whether the unembedding was split across the processes by vocabulary.</summary>
    [JsonPropertyName("vocab_parallel")] public bool VocabParallel { get; init; }
}

/// <summary>
/// metrics.jsonl: one JSON object per step, appended and flushed as training goes. Reopening for a resumed run
/// drops the lines past the checkpoint's step (by an atomic replacement, so a kill then loses nothing), so the
/// file never lists a step twice.
/// </summary>
public sealed class MetricsLog : IDisposable
{
    /// <summary>The file's name in a run's folder.</summary>
    public const string FileName = "metrics.jsonl";

    // UTF-8 without a byte-order mark, as StreamWriter writes by default.
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    private readonly StreamWriter writer;
    private readonly List<MetricRecord> records;

    private MetricsLog(StreamWriter writer, List<MetricRecord> records)
    {
        this.writer = writer;
        this.records = records;
    }

    /// <summary>Every record of the run so far, including those of earlier (resumed) runs.</summary>
    public IReadOnlyList<MetricRecord> Records => records;

    /// <summary>
    /// Opens the log in <paramref name="directory"/>, keeping existing records up to <paramref name="keepThroughStep"/>
    /// (0: a fresh run, an empty log). The file is never emptied in place: when records must go (a resumed run cut
    /// back to its checkpoint, a fresh run, a last line cut short by a kill), the kept ones are written to a
    /// temporary file that replaces the log by one rename; otherwise the log is opened for appending.
    /// </summary>
    public static MetricsLog Open(string directory, long keepThroughStep)
    {
        string path = Path.Combine(directory, FileName);
        if (Directory.Exists(path))
        {
            throw new TrainingInputException($"'{path}' is a folder; the run writes its metrics there, a line per step: move the folder away or give the run another one.");
        }

        TemporaryFiles.RemoveStale(path);
        bool exists = File.Exists(path);
        var all = keepThroughStep > 0 && exists ? Read(path) : [];
        var kept = all.Where(r => r.Step <= keepThroughStep).ToList();
        if (exists && (kept.Count != all.Count || keepThroughStep == 0 || !EndsCleanly(path, kept.Count)))
        {
            string doing = keepThroughStep == 0 ? "emptying it for a fresh run"
                : kept.Count != all.Count ? $"cutting it back to step {keepThroughStep.ToString(CultureInfo.InvariantCulture)} to resume from the checkpoint"
                : "dropping a last line cut short";
            Replace(path, kept, doing);
        }

        var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        var writer = new StreamWriter(stream) { AutoFlush = false, NewLine = "\n" };
        return new MetricsLog(writer, kept);
    }

    /// <summary>Whether every line of the file is a record (none cut short, none unreadable) and it ends with a newline.</summary>
    private static bool EndsCleanly(string path, int records)
    {
        var lines = File.ReadAllLines(path).Count(l => !string.IsNullOrWhiteSpace(l));
        if (lines != records)
        {
            return false;
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        if (stream.Length == 0)
        {
            return true;
        }

        stream.Position = stream.Length - 1;
        return stream.ReadByte() == '\n';
    }

    // The kept records (in memory already) written whole beside the log, flushed to disk, then renamed over it, as
    // every whole file of a run is (WholeFiles): a failure leaves the log as it was and no temporary file, and the
    // clean-up of the temporary never hides the failure, which is worded as the checkpoint's are.
    private static void Replace(string path, List<MetricRecord> kept, string doing) =>
        WholeFiles.Write(CheckpointFiles.Current, [new(path, stream =>
        {
            using var writer = new StreamWriter(stream, Utf8, bufferSize: 1 << 16, leaveOpen: true) { NewLine = "\n" };
            foreach (var r in kept)
            {
                writer.WriteLine(JsonSerializer.Serialize(r, TrainingJson.Default.MetricRecord));
            }
        })],
        (e, at) => CheckpointSaveFailure.OfFile(e, at, "the run", doing,
            $"Nothing was replaced: {FileName} is as it was and the checkpoint is untouched; the run did not start."));

    /// <summary>Parses a metrics file; lines that are not valid records are skipped.</summary>
    public static List<MetricRecord> Read(string path)
    {
        var records = new List<MetricRecord>();
        foreach (string line in File.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            try
            {
                if (JsonSerializer.Deserialize(line, TrainingJson.Default.MetricRecord) is { } r)
                {
                    records.Add(r);
                }
            }
            catch (JsonException)
            {
                // A line cut short by a crash: the rest of the log is still usable.
            }
        }
        return records;
    }

    /// <summary>Adds <paramref name="record"/> and flushes it to the file.</summary>
    public void Append(MetricRecord record)
    {
        records.Add(record);
        writer.WriteLine(JsonSerializer.Serialize(record, TrainingJson.Default.MetricRecord));
        writer.Flush();
    }

    /// <summary>Closes the file.</summary>
    public void Dispose() => writer.Dispose();
}
