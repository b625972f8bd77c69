using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;

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
    public const long MaxHeaderBytes = 100L << 20;

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
    public static (IReadOnlyList<SafeTensor> Tensors, IReadOnlyDictionary<string, string> Metadata) Read(Stream source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors data is little-endian; this machine is not.");
        long fileLength = source.Length - source.Position;
        if (fileLength < 8)
            throw new InvalidDataException($"File is truncated: {fileLength} bytes, fewer than the 8-byte header length.");
        Span<byte> lengthBytes = stackalloc byte[8];
        source.ReadExactly(lengthBytes);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > (ulong)MaxHeaderBytes)
            throw new InvalidDataException($"Header length {headerLength} is larger than the {MaxHeaderBytes}-byte limit: not a safetensors file.");
        if ((long)headerLength > fileLength - 8)
            throw new InvalidDataException($"File is truncated: the header claims {headerLength} bytes but only {fileLength - 8} follow.");
        var header = new byte[headerLength];
        source.ReadExactly(header);
        long dataLength = fileLength - 8 - (long)headerLength;

        var entries = ParseHeader(header, out var metadata);
        CheckRanges(entries, dataLength);

        long dataStart = source.Position;
        var tensors = new List<SafeTensor>(entries.Count);
        foreach (var e in entries)
        {
            var data = new float[e.Elements];
            source.Position = dataStart + e.Begin;
            source.ReadExactly(MemoryMarshal.AsBytes(data.AsSpan()));
            tensors.Add(new SafeTensor(e.Name, e.Shape, data));
        }
        return (tensors, metadata);
    }

    private sealed record Entry(string Name, int[] Shape, long Begin, long End, int Elements);

    private static List<Entry> ParseHeader(byte[] header, out Dictionary<string, string> metadata)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Header is not valid JSON: {e.Message}", e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException("Header is not a JSON object.");
            metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var entries = new List<Entry>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (JsonProperty p in doc.RootElement.EnumerateObject())
            {
                if (!seen.Add(p.Name))
                    throw new InvalidDataException($"Header names '{p.Name}' twice.");
                if (p.Name == "__metadata__")
                {
                    if (p.Value.ValueKind != JsonValueKind.Object)
                        throw new InvalidDataException("\"__metadata__\" is not an object of strings.");
                    foreach (JsonProperty m in p.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String)
                            throw new InvalidDataException($"Metadata value '{m.Name}' is not a string.");
                        metadata[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                entries.Add(ParseEntry(p));
            }
            return entries;
        }
    }

    private static Entry ParseEntry(JsonProperty p)
    {
        string name = p.Name;
        if (p.Value.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"Tensor '{name}': entry is not an object.");
        if (!p.Value.TryGetProperty("dtype", out JsonElement dtype) || dtype.ValueKind != JsonValueKind.String)
            throw new InvalidDataException($"Tensor '{name}': missing \"dtype\".");
        if (dtype.GetString() != "F32")
            throw new InvalidDataException($"Tensor '{name}' has dtype {dtype.GetString()}; only F32 is supported.");
        if (!p.Value.TryGetProperty("shape", out JsonElement shapeJson) || shapeJson.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"Tensor '{name}': missing \"shape\" array.");
        var shape = new int[shapeJson.GetArrayLength()];
        long elements = 1;
        int i = 0;
        foreach (JsonElement d in shapeJson.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out int dim) || dim < 0)
                throw new InvalidDataException($"Tensor '{name}': shape entry {d} is not a non-negative 32-bit integer.");
            shape[i++] = dim;
            elements *= dim;
            if (elements > Array.MaxLength)
                throw new InvalidDataException($"Tensor '{name}': shape holds more elements than an array can.");
        }
        if (!p.Value.TryGetProperty("data_offsets", out JsonElement offsets) || offsets.ValueKind != JsonValueKind.Array
            || offsets.GetArrayLength() != 2)
            throw new InvalidDataException($"Tensor '{name}': \"data_offsets\" is not a [begin, end] pair.");
        if (!offsets[0].TryGetInt64(out long begin) || !offsets[1].TryGetInt64(out long end) || begin < 0 || end < begin)
            throw new InvalidDataException($"Tensor '{name}': data_offsets [{offsets[0]}, {offsets[1]}] are not 0 <= begin <= end.");
        if (end - begin != elements * 4)
            throw new InvalidDataException(
                $"Tensor '{name}': data_offsets span {end - begin} bytes but F32 shape [{string.Join(", ", shape)}] needs {elements * 4}.");
        return new Entry(name, shape, begin, end, (int)elements);
    }

    private static void CheckRanges(List<Entry> entries, long dataLength)
    {
        // The format requires the data to be exactly the tensors back to back: no gap, no overlap, no tail.
        long expected = 0;
        foreach (Entry e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (e.End > dataLength)
                throw new InvalidDataException(
                    $"Tensor '{e.Name}': data_offsets end {e.End} is beyond the {dataLength} data bytes (file truncated?).");
            if (e.Begin != expected)
                throw new InvalidDataException(
                    $"Tensor '{e.Name}': data starts at {e.Begin}, expected {expected} (tensors overlap or leave a gap).");
            expected = e.End;
        }
        if (expected != dataLength)
            throw new InvalidDataException($"The data section has {dataLength} bytes but the tensors cover {expected}.");
    }
}
