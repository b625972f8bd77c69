using System.Buffers.Binary;
using System.Text.Json;
using Xent.Cli.Terminal;

namespace Xent.Cli.IO;

/// <summary>
/// The safetensors format: an 8-byte little-endian header length n, n bytes of JSON
/// <c>{"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, "__metadata__": {...}}</c>,
/// then the data; offsets are relative to the first byte after the header. Tensors are little-endian, C order.
/// </summary>
internal static class SafeTensorsFormat
{
    private const long MaxHeaderLength = 100L << 20;

    /// <summary>True when the first 9 bytes look like a safetensors header (plausible length, then '{').</summary>
    public static bool LooksLike(ReadOnlySpan<byte> prefix, long fileLength)
    {
        if (prefix.Length < 9)
        {
            return false;
        }

        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        return n >= 2 && n <= (ulong)Math.Max(0, fileLength - 8) && prefix[8] == (byte)'{';
    }

    /// <summary>Reads the header of <paramref name="path"/> and returns the tensor named <paramref name="tensor"/>.</summary>
    public static ArrayInfo ReadTensor(string path, string tensor)
    {
        using var stream = ArrayFiles.OpenRead(path);
        return ReadTensor(stream, path, tensor);
    }

    /// <summary>The names of the tensors in <paramref name="path"/> (without __metadata__).</summary>
    public static string[] TensorNames(string path)
    {
        using var stream = ArrayFiles.OpenRead(path);
        var (doc, _, _) = ReadHeader(stream, path);
        using (doc)
        {
            return doc.RootElement.EnumerateObject().Select(p => p.Name).Where(p => p != "__metadata__").ToArray();
        }
    }

    /// <summary>Reads the header from the start of <paramref name="stream"/> and returns the tensor named <paramref name="tensor"/>.</summary>
    public static ArrayInfo ReadTensor(Stream stream, string path, string tensor)
    {
        var (doc, dataStart, dataLength) = ReadHeader(stream, path);
        using (doc)
        {
            if (!doc.RootElement.TryGetProperty(tensor, out var entry))
            {
                var names = doc.RootElement.EnumerateObject().Select(p => p.Name).Where(p => p != "__metadata__");
                throw XentCliException.InFile(path, $"no tensor named '{tensor}' (the file holds: {string.Join(", ", names)}).");
            }

            return Entry(entry, path, tensor, dataStart, dataLength);
        }
    }

    private static (JsonDocument Doc, long DataStart, long DataLength) ReadHeader(Stream stream, string path)
    {
        long fileLength = stream.Length;
        if (fileLength < 8)
        {
            throw XentCliException.InFile(path, $"truncated safetensors file: only {fileLength} bytes, too short to hold the header length.");
        }

        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (n > MaxHeaderLength)
        {
            throw XentCliException.InFile(path, $"malformed safetensors header: it declares an implausible header length of {n} bytes.");
        }

        if ((long)n > fileLength - 8)
        {
            throw XentCliException.InFile(path, $"truncated safetensors header: it declares {n} bytes but the file ends after {fileLength - 8}.");
        }

        var json = new byte[n];
        stream.ReadExactly(json);
        long dataStart = 8 + (long)n;
        long dataLength = fileLength - dataStart;

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw XentCliException.InFile(path, $"malformed safetensors header: invalid JSON ({e.Message}).");
        }

        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            doc.Dispose();
            throw XentCliException.InFile(path, "malformed safetensors header: the JSON is not an object.");
        }

        return (doc, dataStart, dataLength);
    }

    private static ArrayInfo Entry(JsonElement entry, string path, string tensor, long dataStart, long dataLength)
    {
        string where = $"tensor '{tensor}'";
        try
        {
            string dtype = entry.GetProperty("dtype").GetString() ?? "";
            var type = dtype switch
            {
                "F16" => ElementType.Float16,
                "BF16" => ElementType.BFloat16,
                "F32" => ElementType.Float32,
                "F64" => ElementType.Float64,
                "I32" => ElementType.Int32,
                "I64" => ElementType.Int64,
                _ => throw XentCliException.InFile(path, $"{where} has unsupported dtype '{dtype}'; xent reads F16, BF16, F32, F64 (logits, weights) and I32, I64 (targets)."),
            };
            var shape = entry.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            var offsets = entry.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            if (shape.Any(d => d < 0) || offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0])
            {
                throw XentCliException.InFile(path, $"malformed safetensors header: {where} has a negative dimension or bad data_offsets.");
            }

            var info = new ArrayInfo(path, tensor, type, shape, dataStart + offsets[0]);
            if (offsets[1] - offsets[0] != info.ByteLength)
            {
                throw XentCliException.InFile(path, $"malformed safetensors header: {where} ({type.Name()} {info.ShapeText}) needs {info.ByteLength} bytes but data_offsets span {offsets[1] - offsets[0]}.");
            }

            if (offsets[1] > dataLength)
            {
                throw XentCliException.InFile(path, $"truncated data: {where} ends at byte {offsets[1]} of the data but the file holds only {dataLength} data bytes.");
            }

            return info;
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException or OverflowException or ArgumentOutOfRangeException)
        {
            throw XentCliException.InFile(path, $"malformed safetensors header: {where} needs 'dtype' (string), 'shape' and 'data_offsets' (integer arrays).");
        }
    }
}
