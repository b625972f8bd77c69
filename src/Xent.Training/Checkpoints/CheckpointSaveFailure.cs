using Xent.Training.Data;

namespace Xent.Training.Checkpoints;

/// <summary>
/// A failed <see cref="CheckpointStore.Save"/> in the user's words: the checkpoint file it was writing (never its
/// temporary file), what went wrong (<see cref="FileProblems"/>: a full disk, no permission, a read-only file system,
/// the folder gone) and what the folder holds now, so that whoever resumes knows which step they resume from.
/// </summary>
/// <remarks>
/// What a failure leaves follows from the order of the save (<see cref="WholeFiles.Write"/>): both files are written
/// whole to temporary files first, then model.safetensors is renamed into place (the commit), then config.json. A
/// failure before the first rename replaced nothing. A failure at the second leaves model.safetensors new beside the
/// earlier config.json, which is not a mixed checkpoint: model.safetensors carries its own config and alone is the
/// checkpoint, and a reader sets aside a config.json of another step and says so (<see cref="CheckpointStore.ResolveConfig"/>).
/// Undoing the first rename instead (the earlier model.safetensors kept aside until config.json is in place, then
/// put back) would rarely repair anything: what makes a rename fail in the folder a moment after one succeeded there
/// (its permission taken away, the file system turned read-only or gone, an I/O error) makes the rename back fail too,
/// and the copy kept aside would add a state of its own for a kill to leave behind.
/// </remarks>
internal static class CheckpointSaveFailure
{
    /// <summary>The exception to throw for <paramref name="error"/>, met at <paramref name="at"/>; it is the inner exception.</summary>
    /// <param name="error">The I/O failure (an <see cref="IOException"/> or <see cref="UnauthorizedAccessException"/>).</param>
    /// <param name="at">Where the save failed, and what it had replaced by then.</param>
    /// <param name="directory">The checkpoint directory.</param>
    /// <param name="step">The step being saved.</param>
    /// <param name="created">
    /// The folders the save created, deepest first (<see cref="OutputFolder.Create"/>): where there are any, the files
    /// it renamed into place and those folders are removed again (called once the temporary files are gone), and the
    /// message says so instead of what the folder holds.
    /// </param>
    public static TrainingInputException Of(Exception error, WholeFileFailure at, string directory, long step, IReadOnlyList<string> created)
    {
        ArgumentNullException.ThrowIfNull(created);
        if (error is FolderInTheWayException folder)
        {
            return folder.Refusal("the checkpoint");
        }

        string problem = FileProblems.Describe(error, directory, at.Temporary, at.Path);
        string left = created.Count > 0 ? OutputFolder.RemoveCreated(directory, "this save", created, at.Replaced) : Left(at, directory, step);
        return new($"cannot write '{at.Path}', saving the checkpoint of step {step}: {problem}. {left}", error);
    }

    /// <summary>
    /// The exception to throw for <paramref name="error"/>, met writing the one file of a
    /// <see cref="WholeFiles.WriteText"/> (summary.json, the lock's owner file, best.json, metrics.jsonl cut back):
    /// "cannot write 'PATH', DOING: PROBLEM. LEFT", naming the file, not its temporary one; it is the inner exception.
    /// A single file is never half replaced, so <paramref name="left"/> (what the folder holds, the file as it was)
    /// holds unless the folder itself went away, which the message then says instead.
    /// </summary>
    /// <param name="error">The I/O failure (an <see cref="IOException"/> or <see cref="UnauthorizedAccessException"/>).</param>
    /// <param name="at">Where the write failed.</param>
    /// <param name="writer">Who writes the file, for a folder in its way (e.g. "the run").</param>
    /// <param name="doing">What the write was for, e.g. "writing the run's summary".</param>
    /// <param name="left">What the folder holds now, one or more sentences.</param>
    public static TrainingInputException OfFile(Exception error, WholeFileFailure at, string writer, string doing, string left)
    {
        return error is FolderInTheWayException folder ? folder.Refusal(writer)
            : OfFile(error, at.Path, at.Temporary, doing, at.FlushingFolder ? NotDurable(at.Path) : left);
    }

    /// <summary>
    /// The exception to throw for <paramref name="error"/>, met writing <paramref name="path"/> in place (metrics.jsonl
    /// opened, or a line appended to it) or through <paramref name="temporary"/>: the message of the other
    /// <see cref="OfFile(Exception, WholeFileFailure, string, string, string)"/>, "cannot write 'PATH', DOING: PROBLEM.
    /// LEFT"; <paramref name="error"/> is the inner exception.
    /// </summary>
    /// <param name="error">The I/O failure (an <see cref="IOException"/> or <see cref="UnauthorizedAccessException"/>).</param>
    /// <param name="path">The file.</param>
    /// <param name="temporary">The temporary file written in its place, which a .NET message may name; null for none.</param>
    /// <param name="doing">What the write was for, e.g. "adding step 7".</param>
    /// <param name="left">What the folder holds now, one or more sentences (unless the folder itself went away).</param>
    public static TrainingInputException OfFile(Exception error, string path, string? temporary, string doing, string left)
    {
        string directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        string problem = FileProblems.Describe(error, directory, temporary, path);
        return new($"cannot write '{path}', {doing}: {problem}. {(Directory.Exists(directory) ? left : "Nothing was written.")}", error);
    }

    /// <summary>
    /// The other <see cref="OfFile(Exception, WholeFileFailure, string, string, string)"/>'s message for a write into a
    /// folder the writer created (best/): the problem worded first, then the folder removed again with
    /// <paramref name="files"/> (<see cref="OutputFolder.RemoveCreated"/>, called once the temporary file is gone),
    /// which the message says instead of what the folder holds.
    /// </summary>
    /// <param name="error">The I/O failure.</param>
    /// <param name="at">Where the write failed.</param>
    /// <param name="writer">Who writes the file, for a folder in its way (e.g. "the run").</param>
    /// <param name="doing">What the write was for.</param>
    /// <param name="created">The folders the writer created, deepest first.</param>
    /// <param name="files">The files the writer had put there before this one.</param>
    public static TrainingInputException OfFileRemovingFolder(Exception error, WholeFileFailure at, string writer, string doing,
        IReadOnlyList<string> created, IEnumerable<string> files)
    {
        if (error is FolderInTheWayException folder)
        {
            return folder.Refusal(writer);
        }

        string directory = Path.GetDirectoryName(at.Path)!;
        string problem = FileProblems.Describe(error, Path.GetFullPath(directory), at.Temporary, at.Path);
        IEnumerable<string> placed = at.FlushingFolder ? files.Concat(at.Replaced) : files;
        return new($"cannot write '{at.Path}', {doing}: {problem}. {OutputFolder.RemoveCreated(directory, "this save", created, placed)}", error);
    }

    /// <summary>What a write whose files were renamed into place, but whose folder could not be flushed to disk, left.</summary>
    /// <param name="path">The (last) file written.</param>
    public static string NotDurable(string path) =>
        $"{Path.GetFileName(path)} was renamed into place, but it may not survive a power loss: check the disk.";

    /// <summary>
    /// <paramref name="failure"/> (a write's failure in the user's words) with <paramref name="sentence"/> after its
    /// message, for a caller that knows more of what is on disk (the run's checkpoint); the same inner exception.
    /// </summary>
    /// <param name="failure">The failure.</param>
    /// <param name="sentence">One or more sentences to add.</param>
    public static TrainingInputException Adding(TrainingInputException failure, string sentence) =>
        new($"{failure.Message} {sentence}", failure.InnerException ?? failure);

    private static string Left(WholeFileFailure at, string directory, long step)
    {
        string model = Path.Combine(directory, CheckpointStore.ModelFile);
        if (at.FlushingFolder)
        {
            return $"Both files were renamed into place, so '{directory}' holds the checkpoint of step {step}, but it may not survive a power loss: check the disk.";
        }

        if (at.Replaced.Contains(model))
        {
            return $"{CheckpointStore.ModelFile} was already replaced and holds step {step} whole, its config included, so the checkpoint of step {step} is saved; " +
                $"{CheckpointStore.ConfigFile} was not replaced and still describes the step before (a reader sets it aside and takes the config inside {CheckpointStore.ModelFile}; the next save rewrites it).";
        }

        if (!Directory.Exists(directory))
        {
            return "Nothing was saved.";
        }

        return File.Exists(model)
            ? $"Nothing was replaced: the previous checkpoint in '{directory}' ({CheckpointStore.ModelFile} and {CheckpointStore.ConfigFile}) is untouched."
            : $"Nothing was saved, and '{directory}' holds no checkpoint.";
    }
}
