using System.Globalization;
using System.Text.Json;
using Xent.Training.Data;

namespace Xent.Training.Checkpoints;

/// <summary>
/// One run at a time in a run folder: an OS lock on ".xent.lock" (a FileStream opened with FileShare.None, which
/// .NET backs with flock on Unix and a share mode on Windows), held from <see cref="Acquire"/> to
/// <see cref="Dispose"/>. The OS drops the lock when the process ends however it ends, so a killed run never
/// leaves the folder stuck. Who holds it is written beside it (".xent.lock.owner": pid, host, start time, a
/// file anyone can read, since the lock itself also bars readers) for the message the next run gets.
/// </summary>
public sealed class RunFolderLock : IDisposable
{
    /// <summary>The locked file in the run folder.</summary>
    public const string LockFile = ".xent.lock";

    /// <summary>The holder's description, beside the lock.</summary>
    public const string OwnerFile = ".xent.lock.owner";

    private readonly FileStream held;
    private readonly string ownerPath;
    private readonly IReadOnlyList<string> createdFolders;
    private readonly bool createdLockFile;
    private readonly Lock gate = new();
    private RunOwner owner;
    private bool disposed;

    private RunFolderLock(string directory, FileStream held, string ownerPath, RunOwner owner, IReadOnlyList<string> createdFolders, bool createdLockFile)
    {
        Directory = directory;
        this.held = held;
        this.ownerPath = ownerPath;
        this.owner = owner;
        this.createdFolders = createdFolders;
        this.createdLockFile = createdLockFile;
    }

    /// <summary>The locked run folder.</summary>
    public string Directory { get; }

    /// <summary>
    /// Locks <paramref name="directory"/> (created if missing) for this process, or throws
    /// <see cref="RunFolderInUseException"/> naming the run that holds it.
    /// </summary>
    /// <param name="directory">The run folder (train's --out).</param>
    /// <param name="command">What this run is, for the message another run would get (e.g. "xent train --out runs/a").</param>
    public static RunFolderLock Acquire(string directory, string command)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        if (OutputFolder.FileInTheWay(directory) == Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)))
        {
            throw new TrainingInputException($"'{directory}' is a file; a run's output must be a folder (new or existing).");
        }

        var createdFolders = OutputFolder.Create(directory);
        string lockPath = Path.Combine(directory, LockFile);
        string ownerPath = Path.Combine(directory, OwnerFile);
        if (System.IO.Directory.Exists(lockPath))
        {
            // Opening a folder as the lock file fails as "access denied", which would blame the folder's permissions.
            OutputFolder.RemoveEmpty(createdFolders);
            throw new TrainingInputException($"'{lockPath}' is a folder; the run keeps its lock file there: move the folder away or give the run another one.");
        }

        bool createdLockFile = !File.Exists(lockPath);
        FileStream held;
        try
        {
            held = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (e is not (FileNotFoundException or DirectoryNotFoundException or PathTooLongException) && !FileProblems.IsDiskFull(e))
        {
            throw new RunFolderInUseException(directory, RunOwner.Read(ownerPath), e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            OutputFolder.RemoveEmpty(createdFolders);
            throw new TrainingInputException($"cannot write into the folder '{directory}': {FileProblems.Describe(e, directory)}.", e);
        }

        var owner = new RunOwner(Environment.ProcessId, Environment.MachineName, DateTimeOffset.UtcNow, command);
        try
        {
            WriteOwner(ownerPath, owner);
        }
        catch (Exception e)
        {
            new RunFolderLock(directory, held, ownerPath, owner, createdFolders, createdLockFile).Abandon();
            if (e is IOException or UnauthorizedAccessException)
            {
                throw new TrainingInputException($"cannot write into the folder '{directory}': {FileProblems.Describe(e, directory)}.", e);
            }

            throw;
        }
        return new RunFolderLock(directory, held, ownerPath, owner, createdFolders, createdLockFile);
    }

    /// <summary>
    /// Says what the run is, now that it is known, for the message another run would get (a folder is locked before
    /// its checkpoint is read, and the run's length comes from it).
    /// </summary>
    /// <param name="command">What this run is.</param>
    /// <exception cref="TrainingInputException">
    /// An I/O error (a full disk, no permission): the message names the owner file and says the run did not start;
    /// the error is the inner exception. The lock is still held (until <see cref="Dispose"/>).
    /// </exception>
    public void Describe(string command)
    {
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            owner = owner with { Command = command };
            WriteOwner(ownerPath, owner, (e, at) => CheckpointSaveFailure.OfFile(e, at, "the run's lock", "saying which run holds the folder",
                $"The run did not start: nothing else in '{Directory}' was touched."));
        }
    }

    // Renamed into place whole: a reader never sees half of it, and a failed write leaves no temporary file.
    private static void WriteOwner(string ownerPath, RunOwner owner, Func<Exception, WholeFileFailure, Exception?>? failure = null) =>
        WholeFiles.WriteText(ownerPath, JsonSerializer.Serialize(owner, TrainingJson.Default.RunOwner), failure);

    /// <summary>Releases the lock (the owner file first, so no one reads a stale owner for a free folder).</summary>
    public void Dispose() => Release(abandon: false);

    /// <summary>
    /// Releases the lock of a run that ends before it has written anything (refused, or interrupted while it was
    /// prepared), leaving the folder as it was found: the lock file goes too when <see cref="Acquire"/> created it,
    /// and the folder (and those above it) when Acquire created them and nothing else has been put there. A run
    /// that trained keeps its lock file (<see cref="Dispose"/>): its folder is a run folder. Safe to call from another
    /// thread than the run's (a signal handler), and more than once.
    /// </summary>
    public void Abandon() => Release(abandon: true);

    private void Release(bool abandon)
    {
        lock (gate)
        {
            if (disposed)
            {
                return;
            }

            disposed = true;
            TryDelete(ownerPath);

            // Deleted while still held, so a run that opens the name meanwhile finds it locked or, once it is gone,
            // makes a new one. (One that opened it just before the delete and locks it just after the release could
            // hold it beside a run locking a new file: a window of microseconds, beside a run that wrote nothing.)
            if (abandon && createdLockFile)
            {
                TryDelete(Path.Combine(Directory, LockFile));
            }

            held.Dispose();
            if (abandon)
            {
                OutputFolder.RemoveEmpty(createdFolders);
            }
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Only a description (the owner), or a lock file that then stays: the next holder reuses either.
        }
    }
}

/// <summary>Who holds a run folder's lock.</summary>
/// <param name="Pid">Process id.</param>
/// <param name="Host">Machine name.</param>
/// <param name="Started">When the lock was taken (UTC).</param>
/// <param name="Command">What the run is.</param>
public sealed record RunOwner(int Pid, string Host, DateTimeOffset Started, string Command)
{
    /// <summary>Reads the owner file; null when it is missing or unreadable (a holder still writing it).</summary>
    internal static RunOwner? Read(string path)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(path), TrainingJson.Default.RunOwner);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or NotSupportedException)
        {
            return null;
        }
    }

    /// <summary>"pid 1234 on host h, started 2026-12-01 04:40:12 UTC: xent train ...".</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"pid {Pid} on host {Host}, started {Started.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC: {Command}");
}

/// <summary>The run folder is locked by another run (exit code 2 in the CLI, as any I/O refusal).</summary>
public sealed class RunFolderInUseException : IOException
{
    /// <summary>Creates the exception for <paramref name="directory"/>, held by <paramref name="owner"/> (null: unknown).</summary>
    /// <param name="directory">The run folder.</param>
    /// <param name="owner">Its holder, as written in the owner file.</param>
    /// <param name="inner">The OS's refusal.</param>
    public RunFolderInUseException(string directory, RunOwner? owner, Exception inner)
        : base($"'{directory}' is in use by another run ({owner?.ToString() ?? "its details are not readable yet"}); " +
            "wait for it to finish or stop it, or give this run another folder.", inner)
    {
        Directory = directory;
        Owner = owner;
    }

    /// <summary>The run folder.</summary>
    public string Directory { get; }

    /// <summary>Who holds it; null when its owner file could not be read.</summary>
    public RunOwner? Owner { get; }
}
