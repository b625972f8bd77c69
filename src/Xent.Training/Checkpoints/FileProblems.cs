using Xent.Training.Data;

namespace Xent.Training.Checkpoints;

/// <summary>
/// Why writing an output (or reading a checkpoint or metrics.jsonl) failed, in the user's terms: .NET's messages name its own view of the error ("Could not
/// find file '/proc/x'" when /proc refuses a new file) and the temporary file a writer fills before renaming it into
/// place, which the user never named. The messages of `xent loss --grad`, `xent train --out` and `xent export
/// --out` say what is wrong with the path the user gave.
/// </summary>
internal static class FileProblems
{
    // Linux's errno values that .NET passes through as IOException.HResult.
    private const int NoSpace = 28;
    private const int ReadOnlyFileSystem = 30;
    private const int InputOutputError = 5;
    private const int IsADirectory = 21;

    /// <summary>
    /// What went wrong creating or writing a file or folder inside <paramref name="folder"/>: a phrase without a final
    /// period, e.g. "permission denied" or "the disk is full".
    /// </summary>
    /// <param name="error">The failure (an <see cref="IOException"/> or <see cref="UnauthorizedAccessException"/>).</param>
    /// <param name="folder">The folder the file or folder was to be created in (existing when the write began).</param>
    /// <param name="temporary">A temporary path the writer used, replaced by <paramref name="shown"/> in a message passed through.</param>
    /// <param name="shown">The path the user gave.</param>
    public static string Describe(Exception error, string folder, string? temporary = null, string? shown = null)
    {
        ArgumentNullException.ThrowIfNull(error);
        if (IsDiskFull(error))
        {
            return "the disk is full";
        }

        // The folder removed while its files were written: a new file in it is a missing part of the path, the
        // rename of a written one a missing file, and .NET names the temporary file either way.
        if (error is FileNotFoundException or DirectoryNotFoundException && !Directory.Exists(folder))
        {
            return $"the folder '{folder}' no longer exists";
        }

        return error switch
        {
            FolderInTheWayException f => $"a folder named '{Path.GetFileName(f.Path)}' is in the way",
            UnauthorizedAccessException => "permission denied",
            PathTooLongException => "the path is too long",

            // ENOENT although the folder exists: a file system that takes no new entries (/proc).
            FileNotFoundException => $"the folder '{folder}' does not accept new files or folders",
            DirectoryNotFoundException => "a part of the path is missing or is not a folder",
            IOException { HResult: ReadOnlyFileSystem } => $"the file system of '{folder}' is read-only",
            _ => Passed(error.Message, temporary, shown),
        };
    }

    /// <summary>
    /// What went wrong reading a file that exists (a checkpoint's, metrics.jsonl): a phrase without a final period,
    /// e.g. "permission denied" or "an I/O error (the disk or its file system failed to read it)".
    /// </summary>
    /// <param name="error">The failure (an <see cref="IOException"/> or <see cref="UnauthorizedAccessException"/>).</param>
    public static string DescribeRead(Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        return error switch
        {
            UnauthorizedAccessException => "permission denied",
            FileNotFoundException or DirectoryNotFoundException => "it was removed while it was read",
            PathTooLongException => "the path is too long",
            IOException { HResult: InputOutputError } => "an I/O error (the disk or its file system failed to read it)",
            IOException { HResult: IsADirectory } => "it is a folder",
            _ => Passed(error.Message, null, null),
        };
    }

    /// <summary>
    /// The exception to throw for a read of <paramref name="path"/> that failed with <paramref name="error"/> (its inner
    /// exception): "cannot read 'PATH', DOING: PROBLEM. LEFT REMEDY", one line as the writes' failures are.
    /// </summary>
    /// <param name="error">The failure (<see cref="IsReadFailure"/>).</param>
    /// <param name="path">The file, as the user would name it.</param>
    /// <param name="doing">What the read was for, e.g. "loading the checkpoint".</param>
    /// <param name="left">What is on disk now, one or more sentences; null to say nothing.</param>
    public static TrainingInputException ReadFailure(Exception error, string path, string doing, string? left = null) =>
        new($"cannot read '{path}', {doing}: {DescribeRead(error)}. {(left is null ? "" : left + " ")}{ReadRemedy(error)}", error);

    /// <summary>What the user can do about a read that failed with <paramref name="error"/>, as a sentence.</summary>
    /// <param name="error">The failure, as given to <see cref="DescribeRead"/>.</param>
    public static string ReadRemedy(Exception error) => error switch
    {
        UnauthorizedAccessException => "Make it readable by this user and run again.",
        IOException { HResult: InputOutputError } => "Check the disk (or copy the folder back from a backup) and run again.",
        _ => "Run again once it can be read.",
    };

    /// <summary>Whether <paramref name="error"/> is a failure to read a file (not a file cut short, which is corrupt input).</summary>
    /// <param name="error">A failure.</param>
    public static bool IsReadFailure(Exception error) =>
        error is UnauthorizedAccessException || (error is IOException && error is not EndOfStreamException);

    /// <summary>Whether <paramref name="error"/> says the disk is full (ENOSPC on Linux, its Windows codes, or its message).</summary>
    /// <param name="error">A failure.</param>
    public static bool IsDiskFull(Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        return error is IOException
            && (error.HResult is NoSpace or unchecked((int)0x80070070) or unchecked((int)0x80070027)
                || error.Message.Contains("disk was full", StringComparison.OrdinalIgnoreCase)
                || error.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>The nearest folder above <paramref name="path"/> that exists (the one a new file or folder goes into).</summary>
    /// <param name="path">A path that may not exist yet.</param>
    public static string ExistingParent(string path)
    {
        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        while (folder is not null && !Directory.Exists(folder))
        {
            folder = Path.GetDirectoryName(folder);
        }

        return folder ?? Path.GetPathRoot(Path.GetFullPath(path)) ?? path;
    }

    // Any other message as .NET words it, without its final period (the caller ends the sentence) and naming the
    // user's path instead of a temporary one.
    private static string Passed(string message, string? temporary, string? shown)
    {
        string text = message.ReplaceLineEndings(" ").Trim().TrimEnd('.');
        return temporary is not null && shown is not null ? text.Replace(temporary, shown, StringComparison.Ordinal) : text;
    }
}
