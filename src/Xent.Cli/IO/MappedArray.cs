using System.IO.MemoryMappedFiles;

namespace Xent.Cli.IO;

/// <summary>
/// An input array memory-mapped read-only: the OS pages it in on demand, so files of several GB (and over 2^31
/// elements) are never copied into managed arrays.
/// </summary>
internal sealed unsafe class MappedArray : IDisposable
{
    private readonly MemoryMappedFile file;
    private readonly MemoryMappedViewAccessor view;
    private byte* basePointer;

    private MappedArray(ArrayInfo info, MemoryMappedFile file, MemoryMappedViewAccessor view)
    {
        Info = info;
        this.file = file;
        this.view = view;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref basePointer);
    }

    public ArrayInfo Info { get; }

    /// <summary>The first byte of the array's data.</summary>
    public byte* Data => basePointer + view.PointerOffset + Info.DataOffset;

    public static MappedArray Open(ArrayInfo info)
    {
        var stream = ArrayFiles.OpenRead(info.Path);
        MemoryMappedFile? file = null;
        try
        {
            file = MemoryMappedFile.CreateFromFile(stream, mapName: null, capacity: 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            var view = file.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            return new MappedArray(info, file, view);
        }
        catch
        {
            file?.Dispose();
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Elements [start, start + count) as a span of <typeparamref name="T"/>.</summary>
    public ReadOnlySpan<T> Slice<T>(long start, int count)
        where T : unmanaged => new((T*)Data + start, count);

    public void Dispose()
    {
        if (basePointer != null)
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
            basePointer = null;
        }

        view.Dispose();
        file.Dispose();
    }
}
