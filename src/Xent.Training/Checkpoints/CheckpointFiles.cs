namespace Xent.Training.Checkpoints;

/// <summary>
/// The file operations of training's writers (<see cref="CheckpointStore.Save"/>, <see cref="HuggingFace.Gpt2Checkpoint.Save"/>,
/// the run's summary, lock owner and metrics log) and of the reads of a checkpoint and of metrics.jsonl: the real file
/// system, or a test's stand-in.
/// </summary>
internal static class CheckpointFiles
{
    private static readonly FileOperationsOverride Override = new();

    /// <summary>What the writers use: the test's stand-in when one is set, else the real file system.</summary>
    public static IFileOperations Current => Override.Current;

    /// <summary>Makes saves in this async flow use <paramref name="files"/> until the result is disposed (tests).</summary>
    public static IDisposable Use(IFileOperations files) => Override.Use(files);
}
