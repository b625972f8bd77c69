using System.Runtime.InteropServices;
using Xent.Cli.Terminal;
using Xent.Training.Checkpoints;
using Xent.Training.Model;

namespace Xent.Cli.IO;

/// <summary>
/// An .npy output: the computation fills <see cref="Data"/> (native memory, so any size works without managed
/// arrays); <see cref="WriteAll"/> then writes it through the file API (<see cref="WholeFiles"/>) into a temporary
/// file beside the destination, with the whole size reserved first, and renames it over the destination. Not a
/// memory map: a full disk under a mapped file is a crash (SIGBUS) at some page, not an error. Any I/O failure
/// becomes one message naming the file, and the temporary file is deleted whatever happens.
/// </summary>
internal sealed unsafe class NpyOutput : IDisposable
{
    /// <summary>Bytes per write call: large enough to stream at disk speed, small enough to need no big buffer.</summary>
    private const int Chunk = 1 << 22;

    private readonly string path;
    private readonly string full;
    private readonly byte[] header;
    private readonly long dataBytes;
    private byte* data;

    private NpyOutput(string path, string full, byte[] header, long count, long dataBytes, byte* data)
    {
        this.path = path;
        this.full = full;
        this.header = header;
        this.dataBytes = dataBytes;
        this.data = data;
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
    /// Writes <paramref name="outputs"/> (nulls skipped) as a unit, as a checkpoint is written (<see cref="WholeFiles.Write"/>):
    /// each whole into its temporary file first, and only when every one is on disk, and no folder has appeared in
    /// the place of any of them since <see cref="OutputDestination.Check"/>, are they renamed into place, in the
    /// order given. A failure while writing leaves every earlier file as it was.
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
        WholeFiles.Write(OutputFiles.Current, [.. present.Select(o => new WholeFile(o.full, o.WriteTo, o.FileBytes))],
            (e, at) => Failure(present, e, at));
    }

    private long FileBytes => header.Length + dataBytes;

    /// <summary>Writes header and data into the output's temporary file.</summary>
    private void WriteTo(Stream stream)
    {
        stream.Write(header);
        for (long offset = 0; offset < dataBytes; offset += Chunk)
        {
            int n = (int)Math.Min(Chunk, dataBytes - offset);
            stream.Write(new ReadOnlySpan<byte>(data + offset, n));
        }
    }

    /// <summary>
    /// The failure of <paramref name="at"/>'s output in the user's words: a folder in its place (made while the
    /// computation ran, after <see cref="OutputDestination.Check"/>) says that no output was replaced; a rename that
    /// failed after earlier ones names the outputs already replaced; a folder that could not be flushed to disk after
    /// the renames names it and every output whose rename it leaves in doubt.
    /// </summary>
    private static XentCliException Failure(List<NpyOutput> present, Exception e, WholeFileFailure at)
    {
        NpyOutput output = present[at.Index];
        if (e is FolderInTheWayException)
        {
            string others = present.Count > 1 ? "; no output was replaced (any earlier files are unchanged)" : " (any earlier file is unchanged)";
            return XentCliException.InFile(output.path, $"{OutputDestination.Step(at)}: a folder of that name has appeared there since the run began. Nothing was written there{others}.", e);
        }

        if (at.FlushingFolder && present.Count > 1)
        {
            // Every output is in place, but those of the folder not flushed (and of any after it) may not survive:
            // each is named, not only the last one written.
            var unflushed = present.Where(o => at.Unflushed.Contains(o.full)).Select(o => o.path).ToList();
            string problem = FileProblems.Describe(e, at.UnflushedFolder!, at.Temporary, at.Path);
            return new XentCliException(
                $"cannot flush the folder '{at.UnflushedFolder}' to disk: {problem}. {string.Join(" and ", unflushed)} " +
                $"{(unflushed.Count == 1 ? "was renamed into place, but it" : "were renamed into place, but they")} may not survive a power loss: check the disk.", e);
        }

        XentCliException failure = OutputDestination.Failure(output.path, e, at, output.FileBytes);
        if (at.Replaced.Count == 0 || at.FlushingFolder)
        {
            return failure;
        }

        string replaced = string.Join(", ", present.Take(at.Replaced.Count).Select(o => o.path));
        return new XentCliException($"{failure.Message} {replaced}, renamed into place before it, {(at.Replaced.Count == 1 ? "holds" : "hold")} this run's output.", e);
    }

    /// <summary>Frees the data.</summary>
    public void Dispose()
    {
        if (data != null)
        {
            NativeMemory.Free(data);
            data = null;
        }
    }
}
