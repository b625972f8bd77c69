using System.Globalization;
using System.IO.Hashing;
using System.Text;
using System.Text.Json.Nodes;
using Xent.Training.Checkpoints;
using Xent.Training.Data;

namespace Xent.Training.Runs;

/// <summary>
/// The checkpoint with the lowest validation loss of a run, kept in the subfolder <see cref="Folder"/> of the run's
/// folder beside the last one, with <see cref="InfoFile"/> saying its step and loss (so a resumed run only replaces
/// it with a better one). <c>xent eval</c>, <c>xent sample</c> and <c>xent export</c> read it by default.
/// </summary>
/// <remarks>
/// The note carries a checksum of its step and loss, as the checkpoints carry one of their bytes: a resume trusts
/// its loss to decide which later checkpoint replaces best/'s, so a note damaged on disk or edited by hand (a lower
/// loss keeps a worse checkpoint there for good, a higher one lets a worse one in) is refused, not trained on.
/// </remarks>
public static class BestCheckpoint
{
    /// <summary>The subfolder's name.</summary>
    public const string Folder = "best";

    /// <summary>The file in the subfolder holding {"step", "val_loss", "xxh3"}.</summary>
    public const string InfoFile = "best.json";

    // The note's checksum of its step and loss (Checksum); notes written before it have none and are read unchecked.
    private const string ChecksumKey = "xxh3";

    /// <summary>The folder to load from: the best checkpoint of <paramref name="directory"/> when it has one and <paramref name="last"/> is false, else the directory itself.</summary>
    /// <param name="directory">A run's folder (or any checkpoint folder).</param>
    /// <param name="last">Whether the last checkpoint is wanted instead of the best.</param>
    public static string Resolve(string directory, bool last)
    {
        ArgumentNullException.ThrowIfNull(directory);
        string best = Path.Combine(directory, Folder);
        return !last && CheckpointStore.Exists(best) ? best : directory;
    }

    /// <summary>The step and validation loss of the best checkpoint in a run's folder; null when there is none.</summary>
    /// <param name="directory">A run's folder.</param>
    /// <exception cref="TrainingInputException">
    /// best.json exists but cannot be read (no permission, an I/O error; the error is the inner exception), or is
    /// damaged: not the note this program writes (cut short, not JSON), a checksum that does not match its step and
    /// loss (a flipped byte, a hand edit), or a negative step or loss. A run that went on without it would take its
    /// next evaluation for the best and replace best/'s checkpoint, whatever its loss. A note written before notes
    /// carried a checksum is read unchecked.
    /// </exception>
    public static (long Step, double ValLoss)? Read(string directory) => Read(directory, "resuming with the run's best checkpoint so far",
        $"Nothing was written: {Folder}/ and the checkpoint are untouched, and the run did not start (without {InfoFile} its next evaluation would replace {Folder}/'s checkpoint whatever its loss).");

    /// <summary>As <see cref="Read(string)"/>, a failure to read the note worded for what it was read for.</summary>
    /// <param name="directory">A run's folder.</param>
    /// <param name="doing">What the read was for (<see cref="FileProblems.ReadFailure"/>).</param>
    /// <param name="left">What is on disk after the failure, one or more sentences.</param>
    internal static (long Step, double ValLoss)? Read(string directory, string doing, string left)
    {
        var (note, path, why, cause) = ReadNote(directory, doing, left);
        return why is null ? note
            : throw (cause is null ? new TrainingInputException(Damaged(path, why)) : new TrainingInputException(Damaged(path, why), cause));
    }

    /// <summary>
    /// As <see cref="Read(string, string, string)"/>, but a damaged note is not thrown: <paramref name="damage"/> says
    /// which file and what is wrong with it ("'.../best.json' is damaged: ..."), for a caller that quotes it in a
    /// message of its own, and null is returned. <paramref name="damage"/> is null for a note read whole, or none.
    /// </summary>
    /// <exception cref="TrainingInputException">The note cannot be read (no permission, an I/O error).</exception>
    internal static (long Step, double ValLoss)? Read(string directory, string doing, string left, out string? damage)
    {
        var (note, path, why, _) = ReadNote(directory, doing, left);
        damage = why is null ? null : Damage(path, why);
        return why is null ? note : null;
    }

    // The note's step and loss (null where there is no note), or why it cannot be trusted and the parser's exception
    // where one said so; a read failure is thrown, worded for `doing`.
    private static ((long Step, double ValLoss)? Note, string Path, string? Why, Exception? Cause) ReadNote(string directory, string doing, string left)
    {
        string path = Path.Combine(directory, Folder, InfoFile);
        if (!File.Exists(path))
        {
            return (null, path, null, null);
        }

        string text;
        try
        {
            using var reader = new StreamReader(CheckpointFiles.Current.OpenRead(path));
            text = reader.ReadToEnd();
        }
        catch (Exception e) when (FileProblems.IsReadFailure(e))
        {
            throw FileProblems.ReadFailure(e, path, doing, left);
        }

        var (note, why, cause) = Parse(text);
        return (why is null ? note : null, path, why, cause);
    }

    /// <summary>
    /// The step and validation loss of the best checkpoint in a run's folder, for a resume: best.json's when it
    /// notes the checkpoint in best/, else that checkpoint's step with its loss in metrics.jsonl. The checkpoint is
    /// replaced before the note is, so a kill between them leaves the note one best behind (or missing, at the first
    /// best), and its older, higher loss would let a worse checkpoint replace best/'s; such a note is rewritten for
    /// the checkpoint. Null when there is no best.
    /// </summary>
    /// <param name="directory">A run's folder.</param>
    /// <param name="rewrite">
    /// Whether a note behind is rewritten; false for a folder the run only reads (resumed into another,
    /// <see cref="CopyForResume"/>), whose note is left as it is and the corrected step and loss only returned.
    /// </param>
    /// <exception cref="TrainingInputException">
    /// As <see cref="Read(string)"/>; best/'s model.safetensors cannot be read or is corrupt; metrics.jsonl cannot be read; or
    /// best.json is behind best/'s checkpoint and metrics.jsonl has no validation loss of its step, or cannot be
    /// rewritten (a full disk, no permission).
    /// </exception>
    internal static (long Step, double ValLoss)? ReadForResume(string directory, bool rewrite = true)
    {
        var note = Read(directory);
        string folder = Path.Combine(directory, Folder);
        if (!CheckpointStore.Exists(folder))
        {
            return note;
        }

        long step = CheckpointStore.ModelStep(folder);
        if (note?.Step == step)
        {
            return note;
        }

        // metrics.jsonl is forced to disk before each checkpoint is saved, so it holds the loss of best/'s step.
        string metrics = Path.Combine(directory, MetricsLog.FileName);
        string stepText = step.ToString(CultureInfo.InvariantCulture);
        double? loss;
        try
        {
            loss = File.Exists(metrics) ? MetricsLog.Read(metrics).LastOrDefault(r => r.Step == step && r.ValLoss is not null)?.ValLoss : null;
        }
        catch (Exception e) when (FileProblems.IsReadFailure(e))
        {
            throw FileProblems.ReadFailure(e, metrics, $"finding the validation loss of step {stepText}, the best checkpoint's",
                $"Nothing was written: {Folder}/ and the checkpoint are untouched, and the run did not start.");
        }

        if (loss is { } l)
        {
            if (!rewrite)
            {
                return (step, l);
            }

            // Noted now, so best.json agrees with best/ even where the run never improves on it (or is stopped first).
            string path = Path.Combine(folder, InfoFile);
            WholeFiles.WriteText(path, NoteText(step, l),
                (e, at) => CheckpointSaveFailure.OfFile(e, at, "the run", $"noting the checkpoint in {Folder}/ (step {stepText}), which {InfoFile} was behind",
                    $"{InfoFile} is as it was, {Folder}/ and the checkpoint are untouched, and the run did not start."));
            return (step, l);
        }

        // A note removed by hand (as a damaged one's message offers) with no loss to take: the next evaluation is the best.
        return note is { } older
            ? throw new TrainingInputException(
                $"'{Path.Combine(folder, InfoFile)}' gives step {older.Step.ToString(CultureInfo.InvariantCulture)}, but the checkpoint in '{folder}' is of step {stepText} " +
                $"(a run stopped between saving the one and noting it), and '{metrics}' has no validation loss of step {stepText} to note it with. " +
                $"Nothing was written and the run did not start: delete {InfoFile} to resume with the next evaluation taken as the best.")
            : null;
    }

    /// <summary>
    /// Starts the best/ of <paramref name="into"/>, a folder without one, as a copy of the best/ of
    /// <paramref name="from"/>, for a run resumed from <paramref name="from"/>'s checkpoint into another folder: its
    /// checkpoint and a note of <paramref name="best"/>, the step and loss <see cref="ReadForResume"/> gave for
    /// <paramref name="from"/> (which is only read, a note behind there corrected in the copy). The three files are
    /// renamed in together (<see cref="WholeFiles"/>), and a best/ this created is removed again when that fails.
    /// Nothing is written when <paramref name="from"/> has no best checkpoint.
    /// </summary>
    /// <exception cref="TrainingInputException">
    /// best/'s files in <paramref name="from"/> cannot be read, or were replaced while they were copied (a run saving
    /// into that folder); or the copy cannot be written (a full disk, no permission).
    /// </exception>
    internal static void CopyForResume(string from, string into, (long Step, double ValLoss)? best)
    {
        string source = Path.Combine(from, Folder);
        if (!CheckpointStore.Exists(source))
        {
            return;
        }

        string folder = Path.Combine(into, Folder);
        string untouched = $"'{from}' is untouched, and the run did not start.";
        var files = new List<WholeFile>();
        foreach (string name in new[] { CheckpointStore.ModelFile, CheckpointStore.ConfigFile })
        {
            string file = Path.Combine(source, name);
            if (File.Exists(file))
            {
                files.Add(new WholeFile(Path.Combine(folder, name), stream => CopyFrom(file, stream, untouched)));
            }
        }

        if (best is { } noted)
        {
            files.Add(new WholeFile(Path.Combine(folder, InfoFile), stream => stream.Write(Encoding.UTF8.GetBytes(NoteText(noted.Step, noted.ValLoss)))));
        }

        var created = OutputFolder.Create(folder, CheckpointFiles.Current);
        string doing = $"copying the best checkpoint so far from '{source}'";
        try
        {
            WholeFiles.WriteWordingLate(CheckpointFiles.Current, files,
                (e, at) => CheckpointSaveFailure.OfFile(e, at, "the run", doing, $"{OutputFolder.RemoveCreated(folder, "the run", created, at.Replaced)} {untouched}"));
        }
        catch (TrainingInputException)
        {
            OutputFolder.RemoveEmpty(created); // a file of the other folder that could not be read: nothing was renamed in
            throw;
        }

        // A run saving into the other folder meanwhile may have replaced its best/ between the note and the copy.
        if (best is { } b && CheckpointStore.ModelStep(folder) != b.Step)
        {
            string left = OutputFolder.RemoveCreated(folder, "the run", created, files.Select(f => f.Path));
            throw new TrainingInputException(
                $"the best checkpoint in '{source}' was replaced while it was copied into '{folder}' (a run is saving into '{from}'). {left} {untouched} Run again.");
        }
    }

    /// <summary>
    /// Removes what <see cref="CopyForResume"/> put in <paramref name="into"/> (best/'s checkpoint, note and the folder
    /// once empty), for a resume that then did not start; what cannot be removed stays.
    /// </summary>
    internal static void RemoveCopy(string into)
    {
        string folder = Path.Combine(into, Folder);
        if (!Directory.Exists(folder))
        {
            return;
        }

        foreach (string name in new[] { CheckpointStore.ModelFile, CheckpointStore.ConfigFile, InfoFile })
        {
            try
            {
                CheckpointFiles.Current.Delete(Path.Combine(folder, name));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return; // the folder stays with it
            }
        }

        OutputFolder.RemoveEmpty([Path.GetFullPath(folder)]);
    }

    // The bytes of a file of the other folder's best/, read through CheckpointFiles (a test's failing disk).
    private static void CopyFrom(string file, Stream into, string untouched)
    {
        try
        {
            CheckpointFiles.ReadChunks(file, bytes =>
            {
                into.Write(bytes);
                return true;
            });
        }
        catch (Exception e) when (FileProblems.IsReadFailure(e))
        {
            throw FileProblems.ReadFailure(e, file, "copying the best checkpoint so far into the resumed run's folder", $"Nothing was written: {untouched}");
        }
    }

    // The note's step and loss, checked, or why it cannot be trusted (with the parser's exception where one said so):
    // it is written whole (WholeFiles), so a kill never leaves one cut short.
    private static ((long Step, double ValLoss) Note, string? Why, Exception? Cause) Parse(string text)
    {
        long step;
        double loss;
        JsonNode? checksum;
        try
        {
            if (JsonNode.Parse(text) is not JsonObject note || note["step"] is not JsonValue s || note["val_loss"] is not JsonValue l)
            {
                return (default, $"it is not the note xent writes, {{\"step\": ..., \"val_loss\": ..., \"{ChecksumKey}\": ...}}", null);
            }

            (step, loss, checksum) = (s.GetValue<long>(), l.GetValue<double>(), note[ChecksumKey]);
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or FormatException or ArgumentException)
        {
            return (default, "it is not JSON of a whole step and a finite validation loss", e);
        }

        string lossText = loss.ToString("R", CultureInfo.InvariantCulture);
        if (checksum is not null && !(checksum is JsonValue c && c.TryGetValue(out string? sum) && string.Equals(sum, Checksum(step, loss), StringComparison.Ordinal)))
        {
            return (default, $"its checksum does not match its step {step.ToString(CultureInfo.InvariantCulture)} and validation loss {lossText} (edited by hand, or damaged on disk)", null);
        }

        if (step < 0 || loss < 0)
        {
            return (default, $"it gives step {step.ToString(CultureInfo.InvariantCulture)} and validation loss {lossText}, which no run measures", null);
        }

        return ((step, loss), null, null);
    }

    // Which note cannot be trusted and why: the start of its message, and what a refusal quoting it says.
    private static string Damage(string path, string why) => $"'{path}' is damaged: {why}";

    // The message of a note that cannot be trusted.
    private static string Damaged(string path, string why) =>
        $"{Damage(path, why)}. It gives the step and validation loss of the checkpoint in {Folder}/, the run's best so far, " +
        "and without it the run's next evaluation would replace that checkpoint whatever its loss. Nothing was written and the run did not start: " +
        $"copy {InfoFile} back from a backup, or delete it to resume with the validation loss {MetricsLog.FileName} gives for {Folder}/'s checkpoint " +
        "(without one there, the next evaluation is taken as the best).";

    // The note without its checksum, as hashed: {"step":S,"val_loss":L}.
    private static JsonObject Note(long step, double loss) => new() { ["step"] = step, ["val_loss"] = loss };

    // The note as written: {"step":S,"val_loss":L,"xxh3":"..."} and a newline.
    private static string NoteText(long step, double loss)
    {
        JsonObject note = Note(step, loss);
        note[ChecksumKey] = Checksum(step, loss);
        return note.ToJsonString() + "\n";
    }

    // The XxHash3 of the note without it (16 hex digits): any change of its step or loss, by a bit or by hand, is seen.
    private static string Checksum(long step, double loss) =>
        XxHash3.HashToUInt64(Encoding.UTF8.GetBytes(Note(step, loss).ToJsonString())).ToString("x16", CultureInfo.InvariantCulture);

    /// <summary>
    /// Writes the checkpoint into the best subfolder (created if missing), then its note. Called just after the run's
    /// own checkpoint of the same step was saved in <paramref name="directory"/>, which a failure here says. A best/
    /// that this save created is removed again when the save fails (its checkpoint and note are one save: an empty or
    /// half-written best/ would look like a checkpoint to eval, sample and export); one that existed keeps its earlier
    /// checkpoint, untouched or (a failure once model.safetensors was replaced) as the message says.
    /// </summary>
    /// <exception cref="TrainingInputException">
    /// An I/O error creating best/ or writing a file in it (a full disk, no permission): the message names the folder
    /// or file and says what best/ and the run's folder hold; the error is the inner exception.
    /// </exception>
    internal static void Save(string directory, CheckpointConfig config, CheckpointState state, double valLoss)
    {
        string folder = Path.Combine(directory, Folder);
        string step = config.Step.ToString(CultureInfo.InvariantCulture);
        string ownCheckpoint = $"The run's own checkpoint of step {step} is saved in '{directory}'.";
        bool existed = Directory.Exists(folder);
        try
        {
            // A best/ created here goes again with what was put in it (CheckpointStore.Save).
            ModelCheckpoint.Save(folder, config, state);
        }
        catch (TrainingInputException e)
        {
            throw CheckpointSaveFailure.Adding(e, ownCheckpoint);
        }

        // The earlier note is read only where the write failed, which left it as it was.
        string path = Path.Combine(folder, InfoFile);
        string doing = $"noting the best checkpoint (step {step}, validation loss {valLoss.ToString("R", CultureInfo.InvariantCulture)})";
        WholeFiles.WriteText(path, NoteText(config.Step, valLoss),
            (e, at) => existed
                ? CheckpointSaveFailure.OfFile(e, at, "the run", doing,
                    $"The checkpoint of step {step} is saved in '{directory}' and in '{folder}'; {InfoFile} was not replaced: {Earlier(directory, folder)}")
                : CheckpointSaveFailure.Adding(CheckpointSaveFailure.OfFileRemovingFolder(e, at, "the run", doing, [Path.GetFullPath(folder)],
                    [Path.Combine(folder, CheckpointStore.ModelFile), Path.Combine(folder, CheckpointStore.ConfigFile)]), ownCheckpoint));
    }

    // What the note left in place by a failed write says, for its message (which an unusable note must not replace).
    private static string Earlier(string directory, string folder)
    {
        try
        {
            return Read(directory) is { } best
                ? $"it still gives the earlier best, step {best.Step.ToString(CultureInfo.InvariantCulture)}."
                : $"'{folder}' has none, so a resumed run takes its first evaluation as the best.";
        }
        catch (TrainingInputException)
        {
            return "the earlier one there cannot be read or is damaged, and a resume refuses it until it is deleted.";
        }
    }
}
