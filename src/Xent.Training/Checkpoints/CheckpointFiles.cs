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

    /// <summary>
    /// Reads <paramref name="path"/> through <see cref="Current"/> in chunks of 64 KB, handing each to
    /// <paramref name="chunk"/> until it returns false. Read by Read, not FileStream.CopyTo (which goes past a test's
    /// stand-in stream to the file). Read failures (an <see cref="IOException"/>, <see cref="UnauthorizedAccessException"/>)
    /// go to the caller, who words them.
    /// </summary>
    /// <returns>Whether every chunk was taken (false: <paramref name="chunk"/> stopped the read).</returns>
    public static bool ReadChunks(string path, Func<ReadOnlySpan<byte>, bool> chunk)
    {
        using var stream = Current.OpenRead(path);
        byte[] buffer = new byte[1 << 16];
        for (int n; (n = stream.Read(buffer, 0, buffer.Length)) > 0;)
        {
            if (!chunk(buffer.AsSpan(0, n)))
            {
                return false;
            }
        }

        return true;
    }
}
