using System.Globalization;
using System.Text;
using System.Text.Json;
using Xent.Training.Checkpoints;
using Xent.Training.Data;

namespace Xent.Training.Runs;

/// <summary>
/// metrics.jsonl: one JSON object per step, appended and flushed as training goes, and forced to disk before each
/// checkpoint is saved (<see cref="FlushToDisk"/>). Reopening for a resumed run
/// drops the lines past the checkpoint's step (by an atomic replacement, so a kill then loses nothing), so the
/// file never lists a step twice. An I/O error opening the file or appending a line (a full disk, no permission) is
/// a <see cref="TrainingInputException"/> naming the file and the steps it holds, the error its inner exception; a
/// line that failed part written is cut off again where it can be (a resume drops one left cut short). So is a resume
/// that cannot read the file (no permission, a failing disk): nothing is written and the run does not start.
/// </summary>
public sealed partial class MetricsLog : IDisposable
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
    /// carriage return, which xent never writes), lines with a carriage return inside, or records whose step is not
    /// after the one before (two logs in one file, an edit), by line number (lines ended by a newline), and the steps
    /// lost with them. Null when nothing was, or only a last line cut short, with no newline after it (what a kill
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
