namespace Xent.Training.Checkpoints;

/// <summary>One file of a <see cref="WholeFiles.Write"/>.</summary>
/// <param name="Path">Where it goes.</param>
/// <param name="Write">Writes its content into the stream of its temporary file.</param>
/// <param name="Size">Its size in bytes where known up front, reserved before anything is written; 0 otherwise.</param>
internal readonly record struct WholeFile(string Path, Action<Stream> Write, long Size = 0);

/// <summary>Where a <see cref="WholeFiles.Write"/> failed, for the caller's wording of the error.</summary>
/// <param name="Index">The file's index in the files given.</param>
/// <param name="Path">Where the file goes.</param>
/// <param name="Temporary">Its temporary file, which a .NET message may name instead of the file meant.</param>
/// <param name="Renaming">False while the files were written, true from the check before the renames on.</param>
/// <param name="Replaced">
/// The destinations already renamed into place when it failed, in order (the files before <paramref name="Index"/>
/// once the renames began); empty when nothing was replaced, so the earlier files all are as they were.
/// </param>
internal readonly record struct WholeFileFailure(int Index, string Path, string Temporary, bool Renaming, IReadOnlyList<string> Replaced)
{
    /// <summary>
    /// Whether every file was already renamed into place and flushing their folder to disk failed (<see cref="Path"/>
    /// is then the last file, <see cref="Replaced"/> all of them): the files are there, but a power loss may undo it.
    /// </summary>
    public bool FlushingFolder => UnflushedFolder is not null;

    /// <summary>The folder whose flush to disk failed; null for a failure before (<see cref="FlushingFolder"/>).</summary>
    public string? UnflushedFolder { get; init; }

    /// <summary>
    /// The files, in order, that a folder flush that failed leaves in doubt: those of <see cref="UnflushedFolder"/> and of
    /// the folders after it, which were not flushed (a file in a folder flushed before is on disk); empty before.
    /// </summary>
    public IReadOnlyList<string> Unflushed { get; init; } = [];
}
