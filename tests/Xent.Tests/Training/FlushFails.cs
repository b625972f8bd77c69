using Xent.Training.Checkpoints;

namespace Xent.Tests.Training;

/// <summary>
/// The real file system, except that flushing a folder to disk after the renames (every folder, or only
/// <paramref name="folder"/>) fails with EIO, as a failing disk does; the folders flushed are noted.
/// </summary>
internal sealed class FlushFails(string? folder = null) : IFileOperations
{
    private const int InputOutputError = 5;

    /// <summary>The folders flushed, in order.</summary>
    public List<string> Flushed { get; } = [];

    public Stream Create(string path, long size) => FileOperations.Real.Create(path, size);

    public void Move(string from, string to) => FileOperations.Real.Move(from, to);

    public void Delete(string path) => FileOperations.Real.Delete(path);

    public void FlushFolderToDisk(string path)
    {
        if (folder is null || string.Equals(Path.TrimEndingDirectorySeparator(path), Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder)), StringComparison.Ordinal))
        {
            throw new IOException("Input/output error", InputOutputError);
        }

        FileOperations.Real.FlushFolderToDisk(path);
        Flushed.Add(path);
    }
}
