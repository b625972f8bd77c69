using System.Text;

namespace Xent.Training.Checkpoints;

/// <summary>
/// Writes a set of files so that none is replaced before all are whole: each goes to its own temporary file beside
/// it (<see cref="TemporaryFiles"/>), flushed to disk, and only then are they renamed into place, in order, and their
/// folder flushed to disk (a failure there, an I/O error, fails the write as a failed flush of a file does). A failure
/// while writing leaves every earlier file as it was; the temporaries never outlive the call (a killed process's
/// are removed by the next writer), and a failure to delete one never hides the error that stopped the write. A
/// folder where a file goes is refused before anything is written and again before the first rename
/// (<see cref="FolderInTheWayException"/>): its rename would fail only after the files before it had been replaced.
/// The checkpoint and the export both write their two files so; summary.json, the lock's owner file and best/'s
/// note are one file each (<see cref="WriteText"/>), and so is metrics.jsonl when a run cuts it back (its kept
/// records streamed into the temporary); the command line writes its .npy and PNG outputs so.
/// </summary>
internal static class WholeFiles
{
    /// <summary>
    /// Writes <paramref name="text"/> (UTF-8) to <paramref name="path"/> whole, as one file of <see cref="Write"/>;
    /// <paramref name="failure"/> words an I/O error as there (<see cref="CheckpointSaveFailure.OfFile(Exception, WholeFileFailure, string, string, string)"/>),
    /// once the temporary file is gone (<see cref="WriteWordingLate"/>).
    /// </summary>
    public static void WriteText(string path, string text, Func<Exception, WholeFileFailure, Exception?>? failure = null) =>
        WriteWordingLate(CheckpointFiles.Current, [new WholeFile(path, stream => stream.Write(Encoding.UTF8.GetBytes(text)))], failure ?? ((_, _) => null));

    /// <summary>
    /// Writes <paramref name="outputs"/> whole through <paramref name="files"/>, then renames them into place in the
    /// order given. <paramref name="failure"/>, where given, turns an I/O error (a <see cref="FolderInTheWayException"/>
    /// included) into the caller's own exception, given the error and where it happened, the files already replaced
    /// included (before the temporary file named there is deleted, which happens whatever it returns); where it
    /// returns null, the error goes on as it is.
    /// </summary>
    public static void Write(IFileOperations files, IReadOnlyList<WholeFile> outputs,
        Func<Exception, WholeFileFailure, Exception?>? failure = null)
    {
        var temporaries = new string[outputs.Count];
        for (int i = 0; i < outputs.Count; i++)
        {
            TemporaryFiles.RemoveStale(outputs[i].Path);
            temporaries[i] = TemporaryFiles.For(outputs[i].Path);
        }

        try
        {
            // Before the temporaries, however large, are written: a folder there now is refused at once.
            RefuseFolders(outputs, temporaries, renaming: false, failure);
            for (int i = 0; i < outputs.Count; i++)
            {
                Attempt(() => WriteFlushed(files, temporaries[i], outputs[i]), new(i, outputs[i].Path, temporaries[i], Renaming: false, Replaced: []), failure);
            }

            // Every file is whole on disk: only now is anything replaced, unless a folder was made meanwhile.
            RefuseFolders(outputs, temporaries, renaming: true, failure);
            for (int i = 0; i < outputs.Count; i++)
            {
                Attempt(() => files.Move(temporaries[i], outputs[i].Path),
                    new(i, outputs[i].Path, temporaries[i], Renaming: true, Replaced: [.. outputs.Take(i).Select(o => o.Path)]), failure);
            }

            // A rename is durable only once its folder is flushed too (ext4 and XFS may otherwise lose it to a power
            // loss, the earlier file or none back in place): once per folder, after all the renames of this write. A
            // failure leaves the files of that folder and of those after it in doubt.
            int last = outputs.Count - 1;
            string[] folders = [.. outputs.Select(o => Path.GetDirectoryName(Path.GetFullPath(o.Path))!)];
            string[] order = [.. folders.Distinct(StringComparer.Ordinal)];
            for (int f = 0; f < order.Length; f++)
            {
                string folder = order[f];
                var unflushed = order.Skip(f).ToHashSet(StringComparer.Ordinal);
                Attempt(() => files.FlushFolderToDisk(folder),
                    new(last, outputs[last].Path, temporaries[last], Renaming: true, Replaced: [.. outputs.Select(o => o.Path)])
                    {
                        UnflushedFolder = folder,
                        Unflushed = [.. outputs.Where((_, i) => unflushed.Contains(folders[i])).Select(o => o.Path)],
                    }, failure);
            }
        }
        finally
        {
            foreach (string temporary in temporaries)
            {
                TryDelete(files, temporary);
            }
        }
    }

    /// <summary>
    /// <see cref="Write"/>, with <paramref name="failure"/> called only once the temporary files are gone, so that it
    /// may also remove what the writer made before (a folder it created, emptied by <see cref="OutputFolder.RemoveCreated"/>)
    /// and word what is left; its exception is thrown instead of the I/O error (which goes on as it is where it returns null).
    /// </summary>
    public static void WriteWordingLate(IFileOperations files, IReadOnlyList<WholeFile> outputs, Func<Exception, WholeFileFailure, Exception?> failure)
    {
        ArgumentNullException.ThrowIfNull(failure);
        WholeFileFailure? failed = null;
        try
        {
            Write(files, outputs, (_, at) =>
            {
                failed = at;
                return null;
            });
        }
        catch (Exception e) when (failed is { } at && e is IOException or UnauthorizedAccessException)
        {
            if (failure(e, at) is { } mapped)
            {
                throw mapped;
            }

            throw;
        }
    }

    private static void RefuseFolders(IReadOnlyList<WholeFile> outputs, string[] temporaries, bool renaming,
        Func<Exception, WholeFileFailure, Exception?>? failure)
    {
        for (int i = 0; i < outputs.Count; i++)
        {
            string path = outputs[i].Path;
            Attempt(() =>
            {
                if (Directory.Exists(path))
                {
                    throw new FolderInTheWayException(path);
                }
            }, new(i, path, temporaries[i], renaming, Replaced: []), failure);
        }
    }

    private static void WriteFlushed(IFileOperations files, string temporary, WholeFile output)
    {
        using Stream stream = files.Create(temporary, output.Size);
        output.Write(stream);
        files.FlushToDisk(stream);
    }

    private static void Attempt(Action step, WholeFileFailure at, Func<Exception, WholeFileFailure, Exception?>? failure)
    {
        try
        {
            step();
        }
        catch (Exception e) when (failure != null && e is IOException or UnauthorizedAccessException)
        {
            if (failure(e, at) is { } mapped)
            {
                throw mapped;
            }

            throw;
        }
    }

    private static void TryDelete(IFileOperations files, string path)
    {
        try
        {
            files.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A leftover temporary file is harmless (the files it was for are untouched) and the next writer removes it.
        }
    }
}
