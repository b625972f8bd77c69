namespace Xent.Training.Checkpoints;

/// <summary>
/// The file operations <see cref="WholeFiles"/> performs (and the folder a checkpoint is saved into, created by
/// <see cref="OutputFolder.Create"/>, the lines <see cref="Runs.MetricsLog"/> appends, and the reads of a checkpoint and
/// of metrics.jsonl), behind an interface so tests can make any of them fail (a
/// full disk, a vanished folder) or stop a write at any point (as a kill would) and look at what is on disk then.
/// Training's writers and the command line's outputs each reach it through their own override
/// (<see cref="CheckpointFiles"/>, and the CLI's OutputFiles), so a test fakes the one it is about.
/// </summary>
internal interface IFileOperations
{
    /// <summary>Creates a new file for writing, <paramref name="size"/> bytes reserved on disk up front (none when 0).</summary>
    /// <param name="path">The file, which must not exist.</param>
    /// <param name="size">The bytes to reserve (a full disk then fails here, not in a write), or 0 when not known.</param>
    Stream Create(string path, long size);

    /// <summary>Renames <paramref name="from"/> over <paramref name="to"/> (atomic on one file system).</summary>
    void Move(string from, string to);

    /// <summary>Deletes <paramref name="path"/> if it exists.</summary>
    void Delete(string path);

    /// <summary>Creates the folder <paramref name="path"/> and any missing folder above it (nothing when it exists).</summary>
    void CreateDirectory(string path) => Directory.CreateDirectory(path);

    /// <summary>
    /// Opens <paramref name="path"/> for reading (a checkpoint's files, metrics.jsonl on a resume), so tests can make
    /// the open or a read fail as no permission or a failing disk does.
    /// </summary>
    /// <param name="path">The file, which must exist.</param>
    FileStream OpenRead(string path) => new(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);

    /// <summary>
    /// Opens <paramref name="path"/> (created if missing) for appending, unbuffered: each write reaches the file at
    /// once, so one that fails keeps nothing back for a later flush to fail on again (metrics.jsonl's lines).
    /// </summary>
    /// <param name="path">The file.</param>
    Stream Append(string path) => new FileStream(path, new FileStreamOptions
    {
        Mode = FileMode.Append,
        Access = FileAccess.Write,
        Share = FileShare.Read,
        BufferSize = 0,
    });

    /// <summary>
    /// Flushes <paramref name="stream"/> through to the disk (fsync for a file): what was written survives a power
    /// loss, as the files of a checkpoint saved after it do.
    /// </summary>
    /// <param name="stream">A stream this opened (<see cref="Create"/>, <see cref="Append"/>).</param>
    void FlushToDisk(Stream stream)
    {
        if (stream is FileStream file)
        {
            file.Flush(flushToDisk: true);
        }
        else
        {
            stream.Flush();
        }
    }

    /// <summary>
    /// Flushes the entries of <paramref name="folder"/> through to the disk (fsync of the folder): the renames done in
    /// it survive a power loss, as the renamed files' content does after <see cref="FlushToDisk"/>.
    /// </summary>
    /// <param name="folder">An existing folder.</param>
    void FlushFolderToDisk(string folder) => FolderSync.Flush(folder);
}

/// <summary>The real file system.</summary>
internal sealed class FileOperations : IFileOperations
{
    private FileOperations()
    {
    }

    /// <summary>The one instance.</summary>
    public static IFileOperations Real { get; } = new FileOperations();

    public Stream Create(string path, long size) => new FileStream(path, new FileStreamOptions
    {
        Mode = FileMode.CreateNew,
        Access = FileAccess.Write,

        // Readable while written: a test that copies the folder mid-write (as a kill would leave it) reads it.
        Share = FileShare.Read,
        BufferSize = 1 << 16,

        // posix_fallocate on Unix: ENOSPC surfaces here as an IOException instead of a failed write later.
        PreallocationSize = size,
    });

    public void Move(string from, string to) => File.Move(from, to, overwrite: true);

    public void Delete(string path) => File.Delete(path);
}
