using Xent.Training.Checkpoints;

namespace Xent.Cli.IO;

/// <summary>
/// An output already whole in memory (a PNG), written as <see cref="NpyOutput"/> writes arrays (<see cref="WholeFiles"/>):
/// into a temporary file beside the destination with its size reserved first, then renamed over it, so a failure
/// leaves no file and an earlier one untouched, and is one message naming the file.
/// </summary>
internal static class BytesOutput
{
    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> (checked first with <see cref="OutputDestination.Check"/>).</summary>
    /// <param name="path">The output file as the user named it.</param>
    /// <param name="bytes">Its content.</param>
    /// <param name="failure">
    /// Words an I/O failure where the writer knows more of what is on disk (train's loss.png); by default
    /// <see cref="OutputDestination.Failure"/>.
    /// </param>
    public static void Write(string path, byte[] bytes, Func<Exception, WholeFileFailure, Exception?>? failure = null) =>
        WholeFiles.Write(OutputFiles.Current, [new WholeFile(Path.GetFullPath(path), stream => stream.Write(bytes), bytes.Length)],
            failure ?? ((e, at) => OutputDestination.Failure(path, e, at, bytes.Length)));
}
