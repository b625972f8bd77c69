using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Xent.Training.Checkpoints;
using Xent.Training.Data;

namespace Xent.Training.Runs;

/// <summary>
/// One line of metrics.jsonl: the state after a training step. A line is read as one only with the fields every xent
/// has written on every line (val_loss among them, null where none was measured); world_size and vocab_parallel came
/// later, so a line without them (an older xent's) is still a record.
/// </summary>
public sealed record MetricRecord
{
    /// <summary>Optimizer steps done (1 after the first step).</summary>
    [JsonRequired, JsonPropertyName("step")] public long Step { get; init; }

    /// <summary>Training loss of the step's batch (nats/token, before the update).</summary>
    [JsonRequired, JsonPropertyName("loss")] public double Loss { get; init; }

    /// <summary>Validation loss after the step; null where none was measured.</summary>
    [JsonRequired, JsonPropertyName("val_loss")] public double? ValLoss { get; init; }

    /// <summary>Learning rate of the step.</summary>
    [JsonRequired, JsonPropertyName("lr")] public double LearningRate { get; init; }

    /// <summary>Training tokens per second of this step (forward, backward, update).</summary>
    [JsonRequired, JsonPropertyName("tokens_per_s")] public double TokensPerSecond { get; init; }

    /// <summary>Global gradient norm before clipping.</summary>
    [JsonRequired, JsonPropertyName("grad_norm")] public double GradNorm { get; init; }

    /// <summary>Processes that trained the step together (data parallel); 1 for one process.</summary>
    [JsonPropertyName("world_size")] public int WorldSize { get; init; } = 1;

    /// <summary>Whether the unembedding was split across the processes by vocabulary.</summary>
    [JsonPropertyName("vocab_parallel")] public bool VocabParallel { get; init; }
}

/// <summary>
/// metrics.jsonl: one JSON object per step, appended and flushed as training goes, and forced to disk before each
/// checkpoint is saved (<see cref="FlushToDisk"/>). Reopening for a resumed run
/// drops the lines past the checkpoint's step (by an atomic replacement, so a kill then loses nothing), so the
/// file never lists a step twice. An I/O error opening the file or appending a line (a full disk, no permission) is
/// a <see cref="TrainingInputException"/> naming the file and the steps it holds, the error its inner exception; a
/// line that failed part written is cut off again where it can be (a resume drops one left cut short). So is a resume
/// that cannot read the file (no permission, a failing disk): nothing is written and the run does not start.
/// </summary>
public sealed class MetricsLog : IDisposable
{
    /// <summary>The file's name in a run's folder.</summary>
    public const string FileName = "metrics.jsonl";

    // UTF-8 without a byte-order mark, as StreamWriter writes by default.
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    private readonly string path;
    private Stream stream;
    private readonly List<MetricRecord> records;

    private MetricsLog(string path, Stream stream, List<MetricRecord> records)
    {
        this.path = path;
        this.stream = stream;
        this.records = records;
    }

    /// <summary>
    /// What <see cref="Open"/> dropped from the log it resumed that no kill leaves, for the user: lines of NUL bytes (the
    /// end of a file not yet on disk at a power loss), unreadable lines before the last or ending in a newline (or a
    /// carriage return, which xent never writes), or records whose step is not after the one before (two logs in one
    /// file, an edit), by line number, and the steps lost with them. Null when nothing was, or only a last line cut short, with no newline after it (what a kill
    /// mid-write leaves, dropped quietly).
    /// </summary>
    public string? Warning { get; private init; }

    /// <summary>Every record of the run so far, including those of earlier (resumed) runs.</summary>
    public IReadOnlyList<MetricRecord> Records => records;

    /// <summary>
    /// Opens the log in <paramref name="directory"/>, keeping existing records up to <paramref name="keepThroughStep"/>
    /// (0: a fresh run, an empty log). The file is never emptied in place: when records or lines must go (a resumed run
    /// cut back to its checkpoint, a fresh run, unreadable lines, a last line cut short by a kill) or a last line lacks
    /// its newline, the kept ones are written to a temporary file that replaces the log by one rename, a failure saying
    /// which of these it was doing; otherwise the log is opened for appending.
    /// </summary>
    /// <param name="directory">The run's folder.</param>
    /// <param name="keepThroughStep">The resumed checkpoint's step; 0 for a fresh run.</param>
    /// <param name="resumedFrom">
    /// The folder of the resumed run when it is not <paramref name="directory"/> (a resume into another folder, which
    /// holds no log but one an unfinished copy of this resume left, replaced): its records up to
    /// <paramref name="keepThroughStep"/> start this one, and its log is only read.
    /// </param>
    /// <exception cref="TrainingInputException">
    /// The log could not be read (a resume), replaced or opened (a full disk, no permission, a failing disk): the
    /// message names it and says what it holds and that the run did not start; the I/O error is the inner exception.
    /// </exception>
    public static MetricsLog Open(string directory, long keepThroughStep, string? resumedFrom = null)
    {
        string path = Path.Combine(directory, FileName);
        if (Directory.Exists(path))
        {
            throw new TrainingInputException($"'{path}' is a folder; the run writes its metrics there, a line per step: move the folder away or give the run another one.");
        }

        TemporaryFiles.RemoveStale(path);
        string source = resumedFrom is null ? path : Path.Combine(resumedFrom, FileName);
        bool exists = File.Exists(source);
        Contents? contents;
        try
        {
            contents = keepThroughStep > 0 && exists ? Scan(source) : null;
        }
        catch (Exception e) when (FileProblems.IsReadFailure(e))
        {
            throw FileProblems.ReadFailure(e, source, $"resuming from the checkpoint of step {keepThroughStep.ToString(CultureInfo.InvariantCulture)}",
                $"Nothing was written: {FileName} and the checkpoint are untouched, and the run did not start.");
        }

        List<MetricRecord> all = contents?.Records ?? [];
        bool clean = contents?.EndsCleanly ?? true;
        var kept = all.Where(r => r.Step <= keepThroughStep).ToList();
        // Resumed into another folder, its log (an unfinished copy's) is replaced too where the other has none.
        if (resumedFrom is not null ? exists || File.Exists(path) : exists && (kept.Count != all.Count || keepThroughStep == 0 || !clean))
        {
            string doing = resumedFrom is not null ? $"copying the lines of '{source}' up to step {keepThroughStep.ToString(CultureInfo.InvariantCulture)} to resume from its checkpoint"
                : keepThroughStep == 0 ? "emptying it for a fresh run"
                : kept.Count != all.Count ? $"cutting it back to step {keepThroughStep.ToString(CultureInfo.InvariantCulture)} to resume from the checkpoint"
                : contents!.Value.Mending;
            Replace(path, kept, doing);
        }

        try
        {
            return new MetricsLog(path, CheckpointFiles.Current.Append(path), kept)
            {
                Warning = contents is { Damaged: true } c ? Damage(source, c, kept, keepThroughStep) : null,
            };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw CheckpointSaveFailure.OfFile(e, path, null, "opening it to add this run's steps", File.Exists(path)
                ? $"{FileName} holds {Steps(kept)} and the checkpoint is untouched; the run did not start."
                : "Nothing was written and the checkpoint is untouched; the run did not start.");
        }
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

    /// <summary>Parses a metrics file; lines that are not valid records, or whose step is not after the one before, are skipped.</summary>
    /// <exception cref="IOException">The file cannot be read (<see cref="Open"/> words it for a resume).</exception>
    public static List<MetricRecord> Read(string path) => Scan(path).Records;

    /// <summary>
    /// Parses a metrics file as <see cref="Read(string)"/> does, and says whether it holds lines no run leaves, not even
    /// one killed: a line that is not a record, unless it is the last and nothing ends it (no newline, no carriage
    /// return), or a record whose step is not after the one before it (dropped from the records). A last line that is
    /// not a record, with nothing ending it, is a line cut short, as a kill while writing it leaves it, the file's only
    /// line or after records.
    /// </summary>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static List<MetricRecord> Read(string path, out bool damaged)
    {
        var contents = Scan(path);
        damaged = contents.Damaged;
        return contents.Records;
    }

    // What one read of a metrics file gives. Unreadable: the numbers of the lines (1 for the first, blank ones counted)
    // that are not records and that a kill cannot leave (any holding a NUL byte, any but the last, the last where a
    // newline or a carriage return ends it), and whether NULs were among them. A line is appended with its newline in one write, so a
    // kill mid-write leaves at most the start of one last line, in text, and no newline after it. OutOfOrder: the
    // records whose step is not after the one kept before them (two logs in one file, an edit), which one run never
    // writes (a resume cuts the log back before it goes on), by line and step, with the step before; the first of each
    // is kept. TextLines: the lines that are not blank, records or not.
    private readonly record struct Contents(List<MetricRecord> Records, List<int> Unreadable, bool Nul, List<(int Line, long Step, long After)> OutOfOrder,
        int TextLines, bool EndsWithNewline)
    {
        public bool Damaged => Unreadable.Count > 0 || OutOfOrder.Count > 0;

        // Every line a record (none cut short, none unreadable), and a newline last (or no byte at all).
        public bool EndsCleanly => TextLines == Records.Count && EndsWithNewline;

        // What replacing a log that does not end cleanly, all its records kept, does to it, for a failure's message.
        // Every line of text is a record, damage or the last line cut short, so that one is what the others leave.
        public string Mending
        {
            get
            {
                bool cut = TextLines > Records.Count + Unreadable.Count + OutOfOrder.Count;
                string[] dropping =
                [
                    .. Count(Unreadable.Count, "unreadable line"),
                    .. Count(OutOfOrder.Count, "line out of step order", "lines out of step order"),
                    .. cut ? ["a last line cut short"] : Array.Empty<string>(),
                ];
                return dropping switch
                {
                    [] => "ending its last line with the newline it lacks",
                    [var only] => $"dropping {only}",
                    [.. var others, var last] => $"dropping {string.Join(", ", others)} and {last}",
                };
            }
        }

        private static string[] Count(int n, string one, string? many = null) =>
            n == 0 ? [] : [n == 1 ? $"1 {one}" : $"{n.ToString(CultureInfo.InvariantCulture)} {many ?? one + "s"}"];
    }

    // The file read once, through CheckpointFiles (a test's failing disk): its lines, then its last byte.
    private static Contents Scan(string path)
    {
        var records = new List<MetricRecord>();
        var unreadable = new List<int>();
        var outOfOrder = new List<(int, long, long)>();
        bool nul = false;
        int text = 0, number = 0, pending = 0;
        using var stream = CheckpointFiles.Current.OpenRead(path);
        using var reader = new StreamReader(stream, Utf8, detectEncodingFromByteOrderMarks: true, bufferSize: -1, leaveOpen: true);
        while (reader.ReadLine() is { } line)
        {
            number++;
            if (pending > 0)
            {
                unreadable.Add(pending);
                pending = 0;
            }

            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            text++;
            if (Record(line) is { } r)
            {
                if (records.Count > 0 && r.Step <= records[^1].Step)
                {
                    outOfOrder.Add((number, r.Step, records[^1].Step));
                }
                else
                {
                    records.Add(r);
                }
            }
            // The rest of the log is still usable; the line is counted as damage unless a kill could have cut it.
            else if (line.Contains('\0', StringComparison.Ordinal))
            {
                unreadable.Add(number);
                nul = true;
            }
            else
            {
                pending = number;
            }
        }

        // The reader left the stream at its end: only the last byte is read again (where it can be: not in a pipe).
        int last = stream.CanSeek && stream.Length > 0 && stream.Seek(-1, SeekOrigin.End) >= 0 ? stream.ReadByte() : -1;
        bool newline = stream.CanSeek && (stream.Length == 0 || last == '\n');
        // A line cut short by a kill has no end at all: the reader also ends a line at a carriage return, which xent
        // never writes (a log edited on Windows ends its lines in CR LF, a newline last), so no kill leaves one.
        if (pending > 0 && last is '\n' or '\r')
        {
            unreadable.Add(pending);
        }

        return new(records, unreadable, nul, outOfOrder, text, newline);
    }

    // The record a line holds; null where it holds none: not JSON, JSON of another shape (`null`, `{}`, an object
    // missing a field every line has), or a step before the first, which no run writes.
    private static MetricRecord? Record(string line)
    {
        try
        {
            return JsonSerializer.Deserialize(line, TrainingJson.Default.MetricRecord) is { Step: >= 1 } r ? r : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    // The warning for lines dropped that no kill leaves, with the steps of the checkpoint the log no longer lists.
    private static string Damage(string path, Contents contents, List<MetricRecord> kept, long keepThroughStep)
    {
        var parts = new List<string>();
        if (contents.Unreadable is { Count: > 0 } lines)
        {
            string what = contents.Nul ? "NUL bytes, as a crash or power loss leaves the end of a file not yet written to disk" : "not a record of a step";
            parts.Add($"{Lines(lines)} unreadable ({what}) and dropped");
        }

        if (contents.OutOfOrder is [var first, ..] order)
        {
            string why = "and one run's steps only go up (two logs in one file, or edited by hand)";
            parts.Add(order.Count == 1
                ? string.Create(CultureInfo.InvariantCulture, $"{Lines([first.Line])} dropped: its step {first.Step} is not after step {first.After} before it, {why}")
                : string.Create(CultureInfo.InvariantCulture,
                    $"{Lines([.. order.Select(o => o.Line)])} dropped: their steps are not after those before them (line {first.Line}: step {first.Step}, after step {first.After}), {why}"));
        }

        var listed = kept.Select(r => r.Step).ToHashSet();
        long from = kept.Count > 0 ? kept[0].Step : 1;
        var gaps = new List<string>();
        for (long step = from; step <= keepThroughStep; step++)
        {
            if (listed.Contains(step))
            {
                continue;
            }

            long end = step;
            while (end < keepThroughStep && !listed.Contains(end + 1))
            {
                end++;
            }

            gaps.Add(end == step ? step.ToString(CultureInfo.InvariantCulture) : string.Create(CultureInfo.InvariantCulture, $"{step}-{end}"));
            step = end;
        }
        bool one = gaps.Count == 1 && !gaps[0].Contains('-', StringComparison.Ordinal);
        if (gaps.Count > 0)
        {
            parts.Add($"{(one ? "step" : "steps")} {string.Join(", ", gaps)} " +
                $"{(one ? "is" : "are")} missing from it (trained, and in the checkpoint of step " +
                $"{keepThroughStep.ToString(CultureInfo.InvariantCulture)}, but their lines are lost)");
        }

        return $"{path}: {string.Join("; ", parts)}.";
    }

    // "line 6 was", "lines 1, 4-6 were".
    private static string Lines(List<int> lines) =>
        lines.Count == 1 ? $"line {lines[0].ToString(CultureInfo.InvariantCulture)} was" : $"lines {LineList(lines)} were";

    // Line numbers, in order, as ranges ("3, 8-10"); past the first few ranges only how many more lines there are, so a
    // log of thousands of damaged lines is not a warning of thousands of numbers.
    private static string LineList(List<int> lines)
    {
        const int Shown = 5;
        var ranges = new List<string>();
        int i = 0;
        while (i < lines.Count && ranges.Count < Shown)
        {
            int end = i;
            while (end + 1 < lines.Count && lines[end + 1] == lines[end] + 1)
            {
                end++;
            }

            ranges.Add(end == i ? lines[i].ToString(CultureInfo.InvariantCulture) : string.Create(CultureInfo.InvariantCulture, $"{lines[i]}-{lines[end]}"));
            i = end + 1;
        }

        return i < lines.Count ? string.Create(CultureInfo.InvariantCulture, $"{string.Join(", ", ranges)} and {lines.Count - i} more") : string.Join(", ", ranges);
    }

    /// <summary>Adds <paramref name="record"/>, written to the file at once (a line of its own).</summary>
    /// <exception cref="TrainingInputException">
    /// The line could not be written (a full disk): the message names the file and the steps it holds (the record is
    /// not added); the I/O error is the inner exception.
    /// </exception>
    public void Append(MetricRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        byte[] line = Utf8.GetBytes(JsonSerializer.Serialize(record, TrainingJson.Default.MetricRecord) + "\n");
        long end = stream.Position;
        try
        {
            stream.Write(line);
            stream.Flush();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            string step = record.Step.ToString(CultureInfo.InvariantCulture);
            string cut = CutBack(end) ? "" : $", and may end in part of the line of step {step}, which a resume drops";
            throw CheckpointSaveFailure.OfFile(e, path, null, $"adding step {step}", $"{FileName} holds {Steps(records)}{cut}.");
        }

        records.Add(record);
    }

    /// <summary>
    /// Forces the lines appended so far through to the disk (fsync). Append only flushes them to the operating system,
    /// which a power loss can lose; a checkpoint's files are fsynced, so one saved after this is never ahead of the log.
    /// </summary>
    /// <param name="step">The step of the checkpoint about to be saved, for the message.</param>
    /// <exception cref="TrainingInputException">The disk refused (an I/O error): the message names the file and the checkpoint not saved.</exception>
    internal void FlushToDisk(long step)
    {
        try
        {
            CheckpointFiles.Current.FlushToDisk(stream);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            string at = step.ToString(CultureInfo.InvariantCulture);
            throw CheckpointSaveFailure.OfFile(e, path, null, $"writing its lines to disk before the checkpoint of step {at}",
                $"{FileName} holds {Steps(records)}, which may not all be on disk; the checkpoint of step {at} was not saved.");
        }
    }

    /// <summary>
    /// Gives the last record, of <paramref name="step"/>, the validation loss its run could not measure (a resumed run
    /// measures it again): the log is replaced whole, as <see cref="Open"/> replaces it, before anything is appended.
    /// </summary>
    /// <exception cref="TrainingInputException">The log could not be replaced (a full disk): it is as it was.</exception>
    public void SetValidationLoss(long step, double valLoss)
    {
        if (records.Count == 0 || records[^1].Step != step)
        {
            throw new InvalidOperationException($"The last record is not of step {step}.");
        }

        stream.Dispose();
        var measured = new List<MetricRecord>(records);
        measured[^1] = measured[^1] with { ValLoss = valLoss };
        try
        {
            Replace(path, measured, $"noting the validation loss of step {step.ToString(CultureInfo.InvariantCulture)}, measured again on resuming");
            records[^1] = measured[^1];
        }
        finally
        {
            stream = CheckpointFiles.Current.Append(path);
        }
    }

    /// <summary>Closes the file.</summary>
    public void Dispose() => stream.Dispose();

    // What a failed write may have put at the end of the file (part of its line) taken off again: false where that
    // failed too (the next open drops a line cut short).
    private bool CutBack(long end)
    {
        try
        {
            stream.SetLength(end);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            return false;
        }
    }

    // The steps that records list, e.g. "steps 1 to 40".
    private static string Steps(List<MetricRecord> records) => records.Count switch
    {
        0 => "no steps",
        1 => $"step {records[0].Step.ToString(CultureInfo.InvariantCulture)}",
        _ => $"steps {records[0].Step.ToString(CultureInfo.InvariantCulture)} to {records[^1].Step.ToString(CultureInfo.InvariantCulture)}",
    };
}
