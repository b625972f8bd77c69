using System.IO.MemoryMappedFiles;
using Xent.Cli.Terminal;

namespace Xent.Cli.IO;

/// <summary>
/// An .npy file being written: a temporary file next to the destination, memory-mapped so the computation writes
/// straight into it (outputs of several GB never pass through managed arrays). <see cref="Commit"/> renames it
/// over the destination; disposing without committing deletes it, so a failure never leaves a half-written file.
/// </summary>
internal sealed unsafe class NpyOutput : IDisposable
{
    private readonly string path;
    private readonly string temporary;
    private MemoryMappedFile? file;
    private MemoryMappedViewAccessor? view;
    private byte* basePointer;
    private readonly long dataOffset;

    private NpyOutput(string path, string temporary, MemoryMappedFile file, MemoryMappedViewAccessor view, long dataOffset, long count)
    {
        this.path = path;
        this.temporary = temporary;
        this.file = file;
        this.view = view;
        this.dataOffset = dataOffset;
        Count = count;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref basePointer);
    }

    /// <summary>Number of elements.</summary>
    public long Count { get; }

    /// <summary>The first element's bytes.</summary>
    public byte* Data => basePointer + view!.PointerOffset + dataOffset;

    /// <summary>Creates the temporary file for an array of <paramref name="type"/> and <paramref name="shape"/> to end up at <paramref name="path"/>.</summary>
    public static NpyOutput Create(string path, ElementType type, long[] shape)
    {
        string full = Path.GetFullPath(path);
        string? dir = Path.GetDirectoryName(full);
        if (Directory.Exists(full))
        {
            throw XentCliException.InFile(path, "cannot write the output: it is a directory.");
        }

        if (dir is null || !Directory.Exists(dir))
        {
            throw XentCliException.InFile(path, $"cannot write the output: the folder '{dir}' does not exist.");
        }

        var header = NpyFormat.Header(type, shape);
        long count = ArrayInfo.ElementCount(shape);
        long total = header.Length + count * type.Size();
        string temporary = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        FileStream stream;
        try
        {
            stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, bufferSize: 1);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw XentCliException.InFile(path, $"cannot write the output: {e.Message}");
        }

        MemoryMappedFile? map = null;
        try
        {
            stream.Write(header);
            stream.SetLength(total);
            map = MemoryMappedFile.CreateFromFile(stream, mapName: null, total, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: false);
            var view = map.CreateViewAccessor(0, total, MemoryMappedFileAccess.ReadWrite);
            return new NpyOutput(full, temporary, map, view, header.Length, count);
        }
        catch (Exception e)
        {
            map?.Dispose();
            stream.Dispose();
            File.Delete(temporary);
            if (e is IOException)
            {
                throw XentCliException.InFile(path, $"cannot write the output: {e.Message}");
            }

            throw;
        }
    }

    /// <summary>Flushes the data and renames the file to its destination (replacing any file there).</summary>
    public void Commit()
    {
        view!.Flush();
        Release();
        File.Move(temporary, path, overwrite: true);
    }

    public void Dispose()
    {
        if (view is not null)
        {
            Release();
            File.Delete(temporary);
        }
    }

    private void Release()
    {
        if (basePointer != null)
        {
            view!.SafeMemoryMappedViewHandle.ReleasePointer();
            basePointer = null;
        }

        view!.Dispose();
        file!.Dispose();
        view = null;
        file = null;
    }
}
