using Xent.Training.Checkpoints;

namespace Xent.Cli.IO;

/// <summary>
/// The file operations of the command line's output files (<see cref="NpyOutput"/>, <see cref="BytesOutput"/>): the
/// real file system, or a test's stand-in, apart from training's (<see cref="CheckpointFiles"/>) so a test fakes
/// the outputs of a verb without touching its checkpoints.
/// </summary>
internal static class OutputFiles
{
    private static readonly FileOperationsOverride Override = new();

    /// <summary>What writers use: the test's stand-in when one is set, else the real file system.</summary>
    public static IFileOperations Current => Override.Current;

    /// <summary>Makes writers in this async flow use <paramref name="files"/> until the result is disposed (tests).</summary>
    public static IDisposable Use(IFileOperations files) => Override.Use(files);
}
