using Xent.Cli.Terminal;
using Xent.Training.Checkpoints;
using Xent.Training.Model;

namespace Xent.Cli.IO;

/// <summary>
/// What every output file of the CLI shares: the check of its name before any work, and its I/O failures in the
/// user's words, so that each verb says the same thing about the same problem.
/// </summary>
internal static class OutputDestination
{
    /// <summary>
    /// Checks that <paramref name="path"/> can be an output file (not a folder, in an existing folder) and
    /// removes temporary files that killed runs left beside it. Call before any work.
    /// </summary>
    /// <param name="path">The output file as the user named it.</param>
    /// <param name="option">The flag that named it, for the messages.</param>
    /// <param name="example">A file name to suggest when <paramref name="path"/> is a folder.</param>
    public static void Check(string path, string option, string example = "out.npy")
    {
        if (path.Length == 0 || string.IsNullOrWhiteSpace(path))
        {
            throw new XentCliException($"{option} needs a file name, not an empty string.");
        }

        string full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            throw XentCliException.InFile(path, $"{option} names a folder; give a file name, e.g. {Path.Combine(path, example)}.");
        }

        if (!FileIdentity.Of(full).IsRegular)
        {
            throw XentCliException.InFile(path, $"{option} names a device, pipe or socket, not a regular file; xent writes an output by renaming a finished file over it, so give a file name.");
        }

        string? folder = Path.GetDirectoryName(full);
        if (folder is null || !Directory.Exists(folder))
        {
            throw XentCliException.InFile(path, $"cannot write {option}: the folder '{folder}' does not exist; create it first.");
        }

        TemporaryFiles.RemoveStale(full);
    }

    /// <summary>
    /// An I/O failure of <see cref="WholeFiles.Write"/> writing <paramref name="path"/> (of <paramref name="bytes"/>
    /// bytes) as one message naming it, a full disk in our words; <paramref name="e"/> is its inner exception.
    /// </summary>
    /// <param name="path">The output file as the user named it.</param>
    /// <param name="e">The failure.</param>
    /// <param name="at">Where it happened: whether the output was being written or moved into place.</param>
    /// <param name="bytes">The output's size.</param>
    public static XentCliException Failure(string path, Exception e, WholeFileFailure at, long bytes)
    {
        string full = Path.GetFullPath(path);
        string problem = FileProblems.IsDiskFull(e)
            ? $"the disk is full: this output needs {Size(bytes)}"
            : FileProblems.Describe(e, Path.GetDirectoryName(full) ?? full, at.Temporary, path);
        string left = at.FlushingFolder ? "The output was renamed into place, but it may not survive a power loss: check the disk."
            : "Nothing was written there (any earlier file is unchanged).";
        return XentCliException.InFile(path, $"{Step(at)}: {problem}. {left}", e);
    }

    // Under 1 KiB the rounded size is the exact one already.
    private static string Size(long bytes) => bytes < 1024 ? GptMemory.Format(bytes) : $"{GptMemory.Format(bytes)} ({bytes} bytes)";

    /// <summary>What failed, as the messages of every output say it.</summary>
    public static string Step(WholeFileFailure at) =>
        at.FlushingFolder ? "cannot flush the output's folder to disk"
        : at.Renaming ? "cannot move the written output into place" : "cannot write the output";
}
