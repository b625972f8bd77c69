using Xent.Training.Data;

namespace Xent.Training.Checkpoints;

/// <summary>
/// A folder stands where <see cref="WholeFiles"/> is to rename a file. Found before anything is replaced (its
/// rename would fail only after the earlier files of the set had been replaced); an <see cref="IOException"/>, so
/// callers that word I/O failures word this one too.
/// </summary>
internal sealed class FolderInTheWayException : IOException
{
    /// <summary>Creates the exception for the destination <paramref name="path"/>.</summary>
    /// <param name="path">The file meant, where the folder is.</param>
    public FolderInTheWayException(string path)
        : base($"'{path}' is a folder, in the way of the file to be written there; nothing was replaced.") => Path = path;

    /// <summary>The file meant, where the folder is.</summary>
    public string Path { get; }

    /// <summary>
    /// The refusal a writer of a folder of files (a checkpoint, an export) reports: the path, and that
    /// <paramref name="writer"/> writes a file there.
    /// </summary>
    /// <param name="writer">What writes the file, e.g. "the checkpoint".</param>
    public TrainingInputException Refusal(string writer) =>
        new($"cannot write '{Path}': a folder of that name is in the way; {writer} writes a file there. Nothing was replaced.", this);
}
