using System.Globalization;
using System.Text.Json;
using Xent.Training.Checkpoints;

namespace Xent.Training.Runs;

/// <summary>Reading metrics.jsonl: its records, and the lines no run writes (damage) with the warning that names them.</summary>
public sealed partial class MetricsLog
{
    /// <summary>Parses a metrics file; lines that are not valid records, or whose step is not after the one before, are skipped.</summary>
    /// <exception cref="IOException">The file cannot be read (<see cref="Open"/> words it for a resume).</exception>
    public static List<MetricRecord> Read(string path) => Scan(path).Records;

    /// <summary>
    /// Parses a metrics file as <see cref="Read(string)"/> does, and says whether it holds lines no run leaves, not even
    /// one killed: a line that is not a record, unless it is the last and nothing ends it (no newline, no carriage
    /// return), a line with a carriage return inside (a record too), or a record whose step is not after the one
    /// before it (dropped from the records). Lines end at a newline (after a carriage return: CR LF) only. A last line that is
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

    // What one read of a metrics file gives. Unreadable: the numbers of the lines (1 for the first, blank ones counted,
    // a line ended by its newline alone) that are not records and that a kill cannot leave (any holding a NUL byte or a
    // carriage return, record or not, any but the last, the last where a newline or a carriage return ends it), and
    // what was among them (Why). A line is appended with its newline in one write, so a kill mid-write leaves at most
    // the start of one last line, in text, and no newline after it; xent writes no carriage return, so a line holding
    // one (not the CR of a CR LF, nor the file's last byte) is not what it wrote.
    // OutOfOrder: the records whose step is not after the one kept before them (two logs in one file, an edit), which
    // one run never writes (a resume cuts the log back before it goes on), by line and step, with the step before.
    // TextLines: the lines that are not blank, records or not.
    private readonly record struct Contents(List<MetricRecord> Records, List<int> Unreadable, Unreadability Why, List<(int Line, long Step, long After)> OutOfOrder,
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
        var why = Unreadability.None;
        int text = 0, number = 0, pending = 0;
        using var stream = CheckpointFiles.Current.OpenRead(path);
        using var reader = new StreamReader(stream, Utf8, detectEncodingFromByteOrderMarks: true, bufferSize: -1, leaveOpen: true);
        var lines = new NewlineReader(reader);
        while (lines.ReadLine() is { } line)
        {
            number++;
            if (pending > 0)
            {
                unreadable.Add(pending);
                why |= Unreadability.NotARecord;
                pending = 0;
            }

            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            text++;
            // JSON reads a carriage return as blank space: a record with one inside is damage all the same.
            if (line.Contains('\r', StringComparison.Ordinal) && !line.Contains('\0', StringComparison.Ordinal))
            {
                unreadable.Add(number);
                why |= Unreadability.CarriageReturn;
            }
            else if (Record(line) is { } r)
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
                why |= Unreadability.Nul;
            }
            else
            {
                pending = number;
            }
        }

        // The reader left the stream at its end: only the last byte is read again (where it can be: not in a pipe).
        int last = stream.CanSeek && stream.Length > 0 && stream.Seek(-1, SeekOrigin.End) >= 0 ? stream.ReadByte() : -1;
        bool newline = stream.CanSeek && (stream.Length == 0 || last == '\n');
        // A line cut short by a kill has no end at all: a carriage return last ends the line as well, and xent never
        // writes one (a log edited on Windows ends its lines in CR LF, a newline last), so no kill leaves one.
        if (pending > 0 && last is '\n' or '\r')
        {
            unreadable.Add(pending);
            why |= Unreadability.NotARecord;
        }

        return new(records, unreadable, why, outOfOrder, text, newline);
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
            parts.Add($"{Lines(lines)} unreadable ({Held(contents.Why)}) and dropped");
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

    // What the unreadable lines of a file held: a NUL byte (as a power loss leaves), a carriage return inside, or
    // other text that is not a record.
    [Flags]
    private enum Unreadability
    {
        None = 0,
        NotARecord = 1,
        Nul = 2,
        CarriageReturn = 4,
    }

    // What the unreadable lines held, for the warning; NUL bytes, where any line held them, for all.
    private static string Held(Unreadability why) =>
        why.HasFlag(Unreadability.Nul) ? "NUL bytes, as a crash or power loss leaves the end of a file not yet written to disk" : why switch
        {
            Unreadability.CarriageReturn => "a carriage return inside a line, which xent never writes",
            Unreadability.CarriageReturn | Unreadability.NotARecord => "not a record of a step, or a carriage return inside a line, which xent never writes",
            _ => "not a record of a step",
        };

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
}
