namespace Xent.Cli.IO;

/// <summary>
/// The file operations an output writer uses, behind an interface so tests can make any of them fail (a full
/// disk, a vanished folder) without a real full disk.
/// </summary>
internal interface IOutputFiles
{
    /// <summary>Creates a new file of <paramref name="size"/> bytes reserved on disk up front (fails now, not later, when the disk is full).</summary>
    Stream Create(string path, long size);

    /// <summary>Renames <paramref name="from"/> over <paramref name="to"/> (atomically on one file system).</summary>
    void Move(string from, string to);

    /// <summary>Deletes <paramref name="path"/> if it exists.</summary>
    void Delete(string path);
}

/// <summary>The real file system, and the test override of it for the current async flow.</summary>
internal sealed class OutputFiles : IOutputFiles
{
    private static readonly AsyncLocal<IOutputFiles?> Override = new();

    /// <summary>What writers use: the test override when one is set, else the real file system.</summary>
    public static IOutputFiles Current => Override.Value ?? Real;

    public static IOutputFiles Real { get; } = new OutputFiles();

    /// <summary>Makes writers in this async flow use <paramref name="files"/> until the result is disposed (tests).</summary>
    public static IDisposable Use(IOutputFiles files)
    {
        Override.Value = files;
        return new Restore();
    }

    public Stream Create(string path, long size) => new FileStream(path, new FileStreamOptions
    {
        Mode = FileMode.CreateNew,
        Access = FileAccess.Write,
        Share = FileShare.None,
        BufferSize = 0,

        // posix_fallocate on Unix: ENOSPC surfaces here as an IOException instead of a failed write later.
        PreallocationSize = size,
    });

    public void Move(string from, string to) => File.Move(from, to, overwrite: true);

    public void Delete(string path) => File.Delete(path);

    private sealed class Restore : IDisposable
    {
        public void Dispose() => Override.Value = null;
    }
}
