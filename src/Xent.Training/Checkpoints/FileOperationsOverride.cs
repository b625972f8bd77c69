namespace Xent.Training.Checkpoints;

/// <summary>
/// One kind of writer's file operations: the real file system, or a test's stand-in for the current async flow
/// (tests run in parallel, each in its own flow).
/// </summary>
internal sealed class FileOperationsOverride
{
    private readonly AsyncLocal<IFileOperations?> standIn = new();

    /// <summary>The stand-in where one is set, else <see cref="FileOperations.Real"/>.</summary>
    public IFileOperations Current => standIn.Value ?? FileOperations.Real;

    /// <summary>Makes this flow use <paramref name="files"/> until the result is disposed.</summary>
    public IDisposable Use(IFileOperations files)
    {
        standIn.Value = files;
        return new Restore(this);
    }

    private sealed class Restore(FileOperationsOverride owner) : IDisposable
    {
        public void Dispose() => owner.standIn.Value = null;
    }
}
