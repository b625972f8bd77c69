using Xent.Training.Checkpoints;

namespace Xent.Cli.IO;

/// <summary>
/// An output already whole in memory (a PNG), written as <see cref="NpyOutput"/> writes arrays: into a temporary
/// file beside the destination with its size reserved first, then renamed over it, so a failure leaves no file and
/// an earlier one untouched, and is one message naming the file.
/// </summary>
internal static class BytesOutput
{
    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> (checked first with <see cref="OutputDestination.Check"/>).</summary>
    public static void Write(string path, ReadOnlySpan<byte> bytes)
    {
        var files = OutputFiles.Current;
        string full = Path.GetFullPath(path);
        string temporary = TemporaryFiles.For(full);
        try
        {
            try
            {
                using var stream = files.Create(temporary, bytes.Length);
                stream.Write(bytes);
                if (stream is FileStream file)
                {
                    file.Flush(flushToDisk: true);
                }
            }
            catch (Exception e)
            {
                throw OutputDestination.Failure(path, e, "cannot write the output", bytes.Length, temporary);
            }

            try
            {
                files.Move(temporary, full);
            }
            catch (Exception e)
            {
                throw OutputDestination.Failure(path, e, "cannot move the written output into place", bytes.Length, temporary);
            }
        }
        finally
        {
            Delete(files, temporary);
        }
    }

    private static void Delete(IOutputFiles files, string temporary)
    {
        try
        {
            files.Delete(temporary);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Reported by the caller's own error; TemporaryFiles.RemoveStale clears it on the next run.
        }
    }
}
