namespace Xent.Training.Checkpoints;

/// <summary>
/// Why writing an output failed, in the user's terms: .NET's messages name its own view of the error ("Could not
/// find file '/proc/x'" when /proc refuses a new file) and the temporary file a writer fills before renaming it into
/// place, which the user never named. The messages of `xent loss --grad`, `xent train --out` and `xent export
/// --out` say what is wrong with the path the user gave.
/// </summary>
internal static class FileProblems
{
    // Linux's errno values that .NET passes through as IOException.HResult.
    private const int NoSpace = 28;
    private const int ReadOnlyFileSystem = 30;

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
