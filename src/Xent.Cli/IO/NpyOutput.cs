using System.Runtime.InteropServices;
using Xent.Cli.Terminal;
using Xent.Training.Checkpoints;
using Xent.Training.Model;

namespace Xent.Cli.IO;

/// <summary>
/// An .npy output: the computation fills <see cref="Data"/> (native memory, so any size works without managed
/// arrays); <see cref="WriteAll"/> then writes it through the file API into a temporary file beside the
/// destination, with the whole size reserved first, and renames it over the destination. Not a memory map: a full
/// disk under a mapped file is a crash (SIGBUS) at some page, not an error. Any I/O failure becomes one message
/// naming the file, and the temporary file is deleted whatever happens (at the latest by <see cref="Dispose"/>).
/// </summary>
internal sealed unsafe class NpyOutput : IDisposable
{
    /// <summary>Bytes per write call: large enough to stream at disk speed, small enough to need no big buffer.</summary>
    private const int Chunk = 1 << 22;

    private readonly string path;
    private readonly string full;
    private readonly byte[] header;
    private readonly long dataBytes;
    private readonly IOutputFiles files;
    private byte* data;
    private string? temporary;

    private NpyOutput(string path, string full, byte[] header, long count, long dataBytes, byte* data)
    {
        this.path = path;
        this.full = full;
        this.header = header;
        this.dataBytes = dataBytes;
        this.data = data;
        files = OutputFiles.Current;
        Count = count;
    }

    /// <summary>Number of elements.</summary>
    public long Count { get; }

    /// <summary>The first element's bytes (native memory owned by this object).</summary>
    public byte* Data => data;

    /// <summary>Allocates the data of an array of <paramref name="type"/> and <paramref name="shape"/> that will end up at <paramref name="path"/>.</summary>
    public static NpyOutput Create(string path, ElementType type, long[] shape)
    {
        var header = NpyFormat.Header(type, shape);
        long count = ArrayInfo.ElementCount(shape);
        long bytes = count * type.Size();

        // Checked first: Linux would grant a huge allocation and kill the process when the pages are touched.
        long available = GptMemory.AvailableBytes();
        if (bytes > available)
        {
            throw XentCliException.InFile(path, $"not enough memory to compute this output: it needs {GptMemory.Format(bytes)}, and {GptMemory.Format(available)} is available.");
        }

        byte* buffer;
        try
        {
            buffer = (byte*)NativeMemory.Alloc((nuint)Math.Max(1, bytes));
        }
        catch (OutOfMemoryException)
        {
            throw XentCliException.InFile(path, $"not enough memory to hold this output: it needs {GptMemory.Format(bytes)}.");
        }

        return new NpyOutput(path, Path.GetFullPath(path), header, count, bytes, buffer);
    }

    /// <summary>
    /// Writes <paramref name="outputs"/> (nulls skipped) as a unit, as <c>WholeFiles.Write</c> writes a checkpoint: each whole
    /// into its temporary file first, and only when every one is on disk, and no folder has appeared in the place of
    /// any of them since <see cref="OutputDestination.Check"/>, are they renamed into place, in the order given. A
    /// failure while writing leaves every earlier file as it was.
    /// </summary>
    /// <remarks>
    /// The one window left is between the renames: a rename that fails after an earlier one succeeded (an I/O error
    /// of the folder, a kill) leaves the earlier outputs new beside the later ones' earlier files; the error then
    /// names the outputs already replaced. Several renames cannot be made one; the check before them narrows a folder
    /// in the way to one made between two of them.
    /// </remarks>
    public static void WriteAll(IReadOnlyList<NpyOutput?> outputs)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        var present = outputs.OfType<NpyOutput>().ToList();
        foreach (var output in present)
        {
            output.Write();
        }

        // The computation may have run for minutes since the outputs were checked: a folder put in the place of a
        // later output would fail its rename after the earlier ones had replaced their files.
        foreach (var output in present)
        {
            if (Directory.Exists(output.full))
            {
                string others = present.Count > 1 ? "; no output was replaced (any earlier files are unchanged)" : " (any earlier file is unchanged)";
                throw XentCliException.InFile(output.path, $"cannot move the written output into place: a folder of that name has appeared there since the run began. Nothing was written there{others}.");
            }
        }

        for (int i = 0; i < present.Count; i++)
        {
            try
            {
                present[i].Publish();
            }
            catch (XentCliException e) when (i > 0)
            {
                string replaced = string.Join(", ", present.Take(i).Select(o => o.path));
                throw new XentCliException($"{e.Message} {replaced}, renamed into place before it, {(i == 1 ? "holds" : "hold")} this run's output.", e);
            }
        }
    }

    /// <summary>Writes header and data into a new temporary file beside the destination (not yet visible under its name).</summary>
    private void Write()
    {
        temporary = TemporaryFiles.For(full);
        try
        {
            using var stream = files.Create(temporary, header.Length + dataBytes);
            stream.Write(header);
            for (long offset = 0; offset < dataBytes; offset += Chunk)
            {
                int n = (int)Math.Min(Chunk, dataBytes - offset);
                stream.Write(new ReadOnlySpan<byte>(data + offset, n));
            }

            if (stream is FileStream file)
            {
                file.Flush(flushToDisk: true);
            }
        }
        catch (Exception e)
        {
            // Worded before the temporary file goes: a message naming it is reworded to name the destination.
            var failure = Failure(e, "cannot write the output");
            DeleteTemporary();
            throw failure;
        }
    }

    /// <summary>Renames the written file over the destination (replacing any file there).</summary>
    private void Publish()
    {
        if (temporary is null)
        {
            throw new InvalidOperationException("Write() first.");
        }

        try
        {
            files.Move(temporary, full);
            temporary = null;
        }
        catch (Exception e)
        {
            // Worded before the temporary file goes: a message naming it is reworded to name the destination.
            var failure = Failure(e, "cannot move the written output into place");
            DeleteTemporary();
            throw failure;
        }
    }

    public void Dispose()
    {
        DeleteTemporary();
        if (data != null)
        {
            NativeMemory.Free(data);
            data = null;
        }
    }

    private Exception Failure(Exception e, string what) => OutputDestination.Failure(path, e, what, header.Length + dataBytes, temporary);

    private void DeleteTemporary()
    {
        if (temporary is null)
        {
            return;
        }

        try
        {
            files.Delete(temporary);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Reported by the caller's own error; TemporaryFiles.RemoveStale clears it on the next run.
        }

        temporary = null;
    }
}
