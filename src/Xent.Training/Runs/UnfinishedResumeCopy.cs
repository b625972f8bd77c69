using Xent.Training.Checkpoints;
using Xent.Training.Data;

namespace Xent.Training.Runs;

/// <summary>
/// What a resume into another folder (<see cref="ResumeIntoOtherFolder"/>) leaves there when it is killed or fails
/// after copying the run up to the checkpoint but before its own first checkpoint: the copies of best/ and
/// metrics.jsonl (with the lines of the steps it trained since), and no checkpoint. The same resume run again redoes
/// the copy over them; without this the folder was refused as holding another run, and had to be removed by hand.
/// </summary>
internal static class UnfinishedResumeCopy
{
    // Files a run writes only with or after its first checkpoint: a folder holding one is a run of its own.
    private static readonly string[] OwnRunFiles = [CheckpointStore.ModelFile, CheckpointStore.ConfigFile, RunSummary.FileName];

    // best/'s files a copy renames in (BestCheckpoint.CopyForResume).
    private static readonly string[] BestFiles = [CheckpointStore.ModelFile, CheckpointStore.ConfigFile, BestCheckpoint.InfoFile];

    /// <summary>
    /// Whether <paramref name="into"/> holds nothing but what an unfinished resume from the checkpoint of step
    /// <paramref name="step"/> in <paramref name="from"/> leaves: no checkpoint, summary.json or config.json; best/
    /// absent, or holding the same bytes and note as <paramref name="from"/>'s best/ (or only a killed copy's temporary
    /// files); metrics.jsonl absent, or <paramref name="from"/>'s lines through <paramref name="step"/> followed by
    /// those of steps <paramref name="step"/> + 1, + 2, ... (trained, but saved in no checkpoint). Anything that does
    /// not match (or cannot be parsed) is not such a copy: the folder is refused as before.
    /// </summary>
    /// <exception cref="TrainingInputException">
    /// A file of either folder cannot be read (no permission, a failing disk): it may well be this resume's copy, so
    /// the read failure names the file (<see cref="FileProblems.ReadFailure"/>) rather than calling it another run's.
    /// </exception>
    /// <param name="from">The folder of the checkpoint resumed.</param>
    /// <param name="into">The folder resumed into.</param>
    /// <param name="step">The checkpoint's step.</param>
    /// <param name="best">The best checkpoint of <paramref name="from"/> (<see cref="BestCheckpoint.ReadForResume"/>, read once by the caller).</param>
    /// <param name="wholeBest">
    /// Whether <paramref name="into"/>'s best/ is the whole copy (every file the copy writes, no temporary one), which
    /// the run then keeps rather than reading <paramref name="from"/>'s best/ again to copy it over itself.
    /// </param>
    /// <param name="damaged">
    /// Where a file compared could not be parsed (a damaged best/best.json of <paramref name="into"/>, or a damaged
    /// metrics.jsonl of either folder), which file and what is wrong with it ("'...' is damaged: ..."), built from those parts for the refusal to quote:
    /// the folder is then not taken for such a copy. Null otherwise.
    /// </param>
    public static bool Holds(string from, string into, long step, (long Step, double ValLoss)? best, out bool wholeBest, out string? damaged)
    {
        wholeBest = false;
        damaged = null;
        if (OwnRunFiles.Any(f => Path.Exists(Path.Combine(into, f))))
        {
            return false;
        }

        var copy = BestCopy(from, into, best, out damaged);
        wholeBest = copy == Copy.Whole;
        return copy != Copy.None && MetricsAreCopy(from, into, step, out damaged);
    }

    // What into's best/ holds of the copy: none of it (another run's), a part (or nothing yet), or all of it.
    private enum Copy
    {
        None,
        Part,
        Whole,
    }

    // What a failed read of one of the files compared says it was for, and what it left.
    private const string Left = "Nothing was written and the run did not start.";

    private static string Checking(string into) => $"checking whether '{into}' holds what this resume left there when it was stopped";

    // A read of one of the files compared, its failure worded as every read failure of a run is.
    private static T Reading<T>(string path, string into, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (Exception e) when (FileProblems.IsReadFailure(e))
        {
            throw FileProblems.ReadFailure(e, path, Checking(into), Left);
        }
    }

    private static Copy BestCopy(string from, string into, (long Step, double ValLoss)? best, out string? damaged)
    {
        damaged = null;
        string mine = Path.Combine(into, BestCheckpoint.Folder), theirs = Path.Combine(from, BestCheckpoint.Folder);
        if (!Path.Exists(mine))
        {
            return Copy.Part;
        }

        string[] names = Directory.Exists(mine) ? [.. Reading(mine, into, () => Directory.GetFileSystemEntries(mine)).Select(Path.GetFileName)!] : [];
        if (!Directory.Exists(mine) || names.Any(name => !BestFiles.Contains(name) && !TemporaryFiles.IsTemporary(name)))
        {
            return Copy.None;
        }

        // The copy takes best/'s files only where the other folder has a best checkpoint (else it leaves best/ out),
        // and a note only where that has a step and loss.
        bool copied = CheckpointStore.Exists(theirs), whole = copied && names.All(BestFiles.Contains);
        foreach (string name in (string[])[CheckpointStore.ModelFile, CheckpointStore.ConfigFile])
        {
            string file = Path.Combine(mine, name);
            if (File.Exists(file) && !(copied && SameBytes(file, Path.Combine(theirs, name), into)))
            {
                return Copy.None;
            }

            whole &= File.Exists(file) == File.Exists(Path.Combine(theirs, name));
        }

        bool noted = File.Exists(Path.Combine(mine, BestCheckpoint.InfoFile));
        if (noted && !(copied && BestCheckpoint.Read(into, Checking(into), Left, out damaged) == best && damaged is null))
        {
            return Copy.None;
        }

        return whole && noted == best.HasValue ? Copy.Whole : Copy.Part;
    }

    private static bool MetricsAreCopy(string from, string into, long step, out string? damaged)
    {
        damaged = null;
        string mine = Path.Combine(into, MetricsLog.FileName), theirs = Path.Combine(from, MetricsLog.FileName);
        if (!Path.Exists(mine))
        {
            return true;
        }

        if (!File.Exists(mine))
        {
            return false;
        }

        bool mineBad = false, theirsBad = false;
        var records = Reading(mine, into, () => MetricsLog.Read(mine, out mineBad));
        var copied = File.Exists(theirs) ? Reading(theirs, into, () => MetricsLog.Read(theirs, out theirsBad)).Where(r => r.Step <= step).ToList() : [];
        if (IsCopy(records, copied, step))
        {
            return true;
        }

        // Not known to be another run's, as no run writes such lines: possibly this resume's copy, damaged, or a copy
        // of the other folder's log before it was damaged.
        string[] bad = [.. new[] { (mine, mineBad), (theirs, theirsBad) }.Where(f => f.Item2).Select(f => $"'{f.Item1}'")];
        damaged = bad.Length switch
        {
            0 => null,
            1 => $"{bad[0]} is damaged: it holds lines that are not records of a step, or steps out of order, which no run writes",
            _ => $"{string.Join(" and ", bad)} are damaged: they hold lines that are not records of a step, or steps out of order, which no run writes",
        };
        return false;
    }

    // Whether the records are the copied ones, then those of the steps trained since.
    private static bool IsCopy(List<MetricRecord> records, List<MetricRecord> copied, long step)
    {
        if (records.Count < copied.Count)
        {
            return false;
        }

        for (int i = 0; i < copied.Count; i++)
        {
            // The resumed run measures again an evaluation its checkpoint's step missed (stopped by Ctrl+C), into its copy.
            bool measuredAgain = i == copied.Count - 1 && copied[i].ValLoss is null && records[i] with { ValLoss = null } == copied[i];
            if (records[i] != copied[i] && !measuredAgain)
            {
                return false;
            }
        }

        return records.Skip(copied.Count).Select((r, i) => r.Step == step + 1 + i).All(next => next);
    }

    // Whether two files hold the same bytes (a copy renamed in whole, or not at all).
    private static bool SameBytes(string a, string b, string into)
    {
        if (!File.Exists(b) || new FileInfo(a).Length != new FileInfo(b).Length)
        {
            return false;
        }

        // b's failures are worded inside the chunk (a TrainingInputException, which Reading(a) passes on as it is).
        using var y = Reading(b, into, () => CheckpointFiles.Current.OpenRead(b));
        byte[] other = new byte[1 << 16];
        return Reading(a, into, () => CheckpointFiles.ReadChunks(a, bytes =>
        {
            int n = bytes.Length;
            return Reading(b, into, () => y.ReadAtLeast(other.AsSpan(0, n), n, throwOnEndOfStream: false)) == n && bytes.SequenceEqual(other.AsSpan(0, n));
        }));
    }
}
