using Xent.Training.Checkpoints;

namespace Xent.Tests.Training;

/// <summary>
/// The real file system, except that creating <paramref name="name"/>'s temporary file (every time, or only its
/// <paramref name="failingCreate"/>th creation), or the folder <paramref name="name"/>, fails as a full disk or a refused
/// permission does, naming the path .NET would name.
/// </summary>
internal sealed class CreateFails(string name, bool diskFull, int? failingCreate = null) : IFileOperations
{
    private const int NoSpace = 28;

    private int creates;

    /// <summary>The error thrown, once it was.</summary>
    public Exception? Thrown { get; private set; }

    /// <summary>The error .NET gives for <paramref name="path"/> on a full disk, or where permission is refused.</summary>
    public static Exception Error(bool diskFull, string path) => diskFull
        ? new IOException($"No space left on device : '{path}'", NoSpace)
        : new UnauthorizedAccessException($"Access to the path '{path}' is denied.");

    public Stream Create(string path, long size) =>
        Path.GetFileName(path).StartsWith($".{name}.", StringComparison.Ordinal) && (failingCreate is not { } nth || ++creates == nth)
            ? throw Fail(path)
            : FileOperations.Real.Create(path, size);

    public void Move(string from, string to) => FileOperations.Real.Move(from, to);

    public void Delete(string path) => FileOperations.Real.Delete(path);

    public void CreateDirectory(string path)
    {
        if (Path.GetFileName(Path.TrimEndingDirectorySeparator(path)) == name)
        {
            throw Fail(path);
        }

        Directory.CreateDirectory(path);
    }

    private Exception Fail(string path) => Thrown = Error(diskFull, path);
}
