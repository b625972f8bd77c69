using System.Runtime.InteropServices;

namespace Xent.Training.Checkpoints;

/// <summary>
/// Reads safetensors files holding F32 tensors, checking every header field against the file before any
/// data is read: a truncated file, bad JSON, an unknown or non-F32 dtype, offsets outside the data or not
/// matching the shape, overlapping or gappy ranges each raise <see cref="InvalidDataException"/> naming the
/// problem.
/// </summary>
public static class SafeTensorsReader
{
    /// <summary>Largest header accepted (the reference implementation's limit as well).</summary>
    public const long MaxHeaderBytes = SafeTensorsHeader.MaxBytes;

    /// <summary>Reads a whole file.</summary>
    /// <param name="path">The .safetensors file.</param>
    /// <returns>The tensors in header order and the "__metadata__" map (empty when absent).</returns>
    public static (IReadOnlyList<SafeTensor> Tensors, IReadOnlyDictionary<string, string> Metadata) ReadFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Read(stream);
    }

    /// <summary>Reads from a seekable stream positioned at the file's start.</summary>
    /// <param name="source">The stream; its length bounds every offset.</param>
    public static (IReadOnlyList<SafeTensor> Tensors, IReadOnlyDictionary<string, string> Metadata) Read(Stream source) =>
        Read(source, checksumKey: null);

    /// <summary>
    /// As <see cref="Read(Stream)"/>, and when the metadata holds a checksum under <paramref name="checksumKey"/>
    /// (<see cref="SafeTensorsChecksum"/>), checks the file against it as its bytes are read; a file without one is read
    /// unchecked.
    /// </summary>
    /// <exception cref="InvalidDataException">The file does not hash to its checksum.</exception>
    internal static (IReadOnlyList<SafeTensor> Tensors, IReadOnlyDictionary<string, string> Metadata) Read(Stream source, string? checksumKey)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("safetensors data is little-endian; this machine is not.");
        }

        SafeTensorsHeader header = SafeTensorsHeader.Read(source);
        var shapes = header.Entries.Select(CheckedShape).ToArray();
        CheckRanges(header.Entries, header.DataLength);

        // In file order (CheckRanges made the tensors the data section back to back), so the file is read once, front
        // to back, and the checksum takes each tensor's bytes as they come.
        var data = new float[shapes.Length][];
        int[] fileOrder = [.. Enumerable.Range(0, shapes.Length).OrderBy(i => header.Entries[i].Begin)];
        foreach (int i in fileOrder)
        {
            data[i] = new float[(header.Entries[i].End - header.Entries[i].Begin) / 4];
            source.Position = header.DataStart + header.Entries[i].Begin;
            source.ReadExactly(MemoryMarshal.AsBytes(data[i].AsSpan()));
        }

        if (checksumKey is not null && header.Metadata.TryGetValue(checksumKey, out string? stored)
            && SafeTensorsChecksum.Mismatch(header.Json, checksumKey, stored, fileOrder.Select(i => data[i])) is { } found)
        {
            throw new InvalidDataException(
                $"its checksum does not match its bytes ({checksumKey} {stored}, the file hashes to {found}): it changed after it " +
                "was saved (a disk error, a damaged or incomplete copy) and its weights cannot be trusted. Load an earlier " +
                "checkpoint or a good copy of this one.");
        }

        var tensors = new List<SafeTensor>(shapes.Length);
        for (int i = 0; i < shapes.Length; i++)
        {
            tensors.Add(new SafeTensor(header.Entries[i].Name, shapes[i], data[i]));
        }
        return (tensors, header.Metadata);
    }

    // Checkpoints hold F32 tensors that fit a managed array, with int dimensions.
    private static int[] CheckedShape(SafeTensorsEntry e)
    {
        if (e.DType != "F32")
        {
            throw new InvalidDataException($"Tensor '{e.Name}' has dtype {e.DType}; only F32 is supported.");
        }

        if (e.Shape.Any(d => d > int.MaxValue))
        {
            throw new InvalidDataException($"Tensor '{e.Name}': shape [{string.Join(", ", e.Shape)}] has a dimension beyond 32 bits.");
        }

        if ((e.End - e.Begin) / 4 > Array.MaxLength)
        {
            throw new InvalidDataException($"Tensor '{e.Name}': shape holds more elements than an array can.");
        }

        return e.Shape.Select(d => (int)d).ToArray();
    }

    private static void CheckRanges(IReadOnlyList<SafeTensorsEntry> entries, long dataLength)
    {
        // The format requires the data to be exactly the tensors back to back: no gap, no overlap, no tail.
        long expected = 0;
        foreach (SafeTensorsEntry e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (e.Begin != expected)
            {
                throw new InvalidDataException(
                    $"Tensor '{e.Name}': data starts at {e.Begin}, expected {expected} (tensors overlap or leave a gap).");
            }

            expected = e.End;
        }
        if (expected != dataLength)
        {
            throw new InvalidDataException($"The data section has {dataLength} bytes but the tensors cover {expected}.");
        }
    }
}
