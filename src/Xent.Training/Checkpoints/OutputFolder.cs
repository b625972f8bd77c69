using Xent.Training.Data;

namespace Xent.Training.Checkpoints;

/// <summary>The folder an output goes into (train's and export's --out), created with a message in the user's terms when it cannot be.</summary>
internal static class OutputFolder
{
    /// <summary>
    /// Creates <paramref name="directory"/> and any missing folder above it, or throws a
    /// <see cref="TrainingInputException"/> naming it and saying why not (a file in the way, a file system that takes
    /// no new folders, no permission), having removed again the folders above it it made before the failure.
    /// </summary>
    /// <param name="directory">The output folder, new or existing.</param>
    /// <param name="files">Creates the folder (a test's stand-in); the real file system when null.</param>
    /// <returns>The folders this call created, deepest first (none when it existed).</returns>
    public static IReadOnlyList<string> Create(string directory, IFileOperations? files = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        if (FileInTheWay(directory) is { } file)
        {
            throw new TrainingInputException(file == Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory))
                ? $"'{directory}' is a file; the output must be a folder (new or existing)."
                : $"cannot create the folder '{directory}': '{file}' is a file, not a folder.");
        }

        var created = new List<string>();
        for (string? folder = Path.GetFullPath(directory); folder is not null && !Directory.Exists(folder); folder = Path.GetDirectoryName(folder))
        {
            created.Add(folder);
        }

        try
        {
            (files ?? FileOperations.Real).CreateDirectory(directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The folders above it that were made before the failure go again (the nearest existing one is named).
            string problem = FileProblems.Describe(e, FileProblems.ExistingParent(directory));
            RemoveEmpty(created);
            throw new TrainingInputException($"cannot create the folder '{directory}': {problem}.", e);
        }

        return created;
    }

    /// <summary>
    /// The file that stands where <paramref name="directory"/> or a folder above it would be, or null when there is
    /// none. A trailing separator ("out/") does not hide it: .NET's File.Exists says no to "file/", and creating the
    /// folder then fails with .NET's own message.
    /// </summary>
    /// <param name="directory">The output folder, new or existing.</param>
    /// <returns>The file's full path, or null.</returns>
    public static string? FileInTheWay(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        for (string? path = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)); path is not null; path = Path.GetDirectoryName(path))
        {
            if (Directory.Exists(path))
            {
                return null;
            }

            if (File.Exists(path))
            {
                return path;
            }
        }

        return null;
    }

    /// <summary>
    /// Undoes a failed write into a folder that the writer created (<see cref="Create"/>): deletes the
    /// <paramref name="files"/> it put there, then the folders it made (<see cref="RemoveEmpty"/>), and says what that
    /// left as a sentence: "Nothing was left: the folder 'DIR', created by WRITER, was removed again.", or that it could
    /// not be removed. A folder that existed before the write is never passed here: it keeps what it held.
    /// </summary>
    /// <param name="directory">The folder as the user gave it (the deepest of <paramref name="created"/>).</param>
    /// <param name="writer">Who created it, e.g. "this export".</param>
    /// <param name="created">The folders the writer created, deepest first.</param>
    /// <param name="files">The files the writer had put in place there (renamed in, or written by an earlier step).</param>
    public static string RemoveCreated(string directory, string writer, IReadOnlyList<string> created, IEnumerable<string> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        foreach (string file in files)
        {
            try
            {
                CheckpointFiles.Current.Delete(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                break; // the folder stays, and says so below
            }
        }

        RemoveEmpty(created);
        return Directory.Exists(directory)
            ? $"The folder '{directory}', created by {writer}, could not be removed again: remove it once the problem is fixed."
            : $"Nothing was left: the folder '{directory}', created by {writer}, was removed again.";
    }

    /// <summary>
    /// Removes the folders <see cref="Create"/> created, deepest first, as long as each is empty (one a failed
    /// creation did not make is passed over).
    /// </summary>
    /// <param name="created">What <see cref="Create"/> returned, or the folders it was to create.</param>
    public static void RemoveEmpty(IReadOnlyList<string> created)
    {
        ArgumentNullException.ThrowIfNull(created);
        foreach (string folder in created)
        {
            try
            {
                if (!Directory.Exists(folder))
                {
                    continue;
                }

                if (Directory.EnumerateFileSystemEntries(folder).Any())
                {
                    return;
                }

                Directory.Delete(folder);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return; // something else is using it: left as it is
            }
        }
    }
}
