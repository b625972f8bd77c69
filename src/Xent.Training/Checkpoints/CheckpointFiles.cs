namespace Xent.Training.Checkpoints;

/// <summary>
/// The file operations <see cref="CheckpointStore.Save"/> and <see cref="HuggingFace.Gpt2Checkpoint.Save"/> perform,
/// behind an interface so tests can stop a save at any point (as a kill would) and look at what is on disk then.
/// </summary>
internal interface ICheckpointFiles
{
    /// <summary>Creates a new file for writing.</summary>
    Stream Create(string path);

    /// <summary>Renames <paramref name="from"/> over <paramref name="to"/> (atomic on one file system).</summary>
    void Move(string from, string to);

    /// <summary>Deletes <paramref name="path"/> if it exists.</summary>
    void Delete(string path);
}

/// <summary>The real file system, and the test override of it for the current async flow.</summary>
internal sealed class CheckpointFiles : ICheckpointFiles
{
    private static readonly AsyncLocal<ICheckpointFiles?> OverrideFiles = new();

    public static ICheckpointFiles Real { get; } = new CheckpointFiles();

    /// <summary>What <see cref="CheckpointStore"/> uses: the test override when one is set, else the real file system.</summary>
    public static ICheckpointFiles Current => OverrideFiles.Value ?? Real;

    /// <summary>Makes saves in this async flow use <paramref name="files"/> until the result is disposed (tests).</summary>
    public static IDisposable Use(ICheckpointFiles files)
    {
        OverrideFiles.Value = files;
        return new Restore();
    }

    public Stream Create(string path) =>
        new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 1 << 16);

    public void Move(string from, string to) => File.Move(from, to, overwrite: true);

    public void Delete(string path) => File.Delete(path);

    private sealed class Restore : IDisposable
    {
        public void Dispose() => OverrideFiles.Value = null;
    }
}
