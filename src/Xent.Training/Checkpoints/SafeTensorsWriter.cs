using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Xent.Training.Checkpoints;

/// <summary>
/// Writes the safetensors format: an 8-byte little-endian header length, a UTF-8 JSON header
/// <c>{"__metadata__": {string: string}, name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}}</c>
/// padded with spaces to a multiple of 8 bytes, then the tensors' little-endian bytes back to back, offsets
/// counted from the first byte after the header.
/// </summary>
public static class SafeTensorsWriter
{
    /// <summary>Writes <paramref name="tensors"/> (in the order given) and <paramref name="metadata"/>.</summary>
    /// <param name="destination">A writable stream, positioned where the file starts.</param>
    /// <param name="tensors">Tensors with unique names, each holding exactly its shape's element count.</param>
    /// <param name="metadata">Optional string map stored as "__metadata__".</param>
    public static void Write(Stream destination, IReadOnlyList<SafeTensor> tensors,
        IReadOnlyDictionary<string, string>? metadata = null) => Write(destination, tensors, metadata, checksumKey: null);

    /// <summary>
    /// As <see cref="Write(Stream, IReadOnlyList{SafeTensor}, IReadOnlyDictionary{string, string}?)"/>, with the file's
    /// checksum (<see cref="SafeTensorsChecksum"/>) under <paramref name="checksumKey"/> in the metadata when it is given.
    /// </summary>
    internal static void Write(Stream destination, IReadOnlyList<SafeTensor> tensors,
        IReadOnlyDictionary<string, string>? metadata, string? checksumKey)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(tensors);
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("safetensors data is little-endian; this machine is not.");
        }

        byte[] header = BuildHeader(tensors, checksumKey is null ? metadata : SafeTensorsChecksum.WithPlace(metadata, checksumKey));
        if (checksumKey is not null)
        {
            // The header goes first, so the tensors are hashed where they are, in memory, before anything is written:
            // the file is never read back, and the hash (XxHash3, many GB/s) costs little beside the write.
            SafeTensorsChecksum.Fill(header, checksumKey, tensors.Select(t => t.Data));
        }

        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
        destination.Write(length);
        destination.Write(header);
        foreach (SafeTensor t in tensors)
        {
            destination.Write(MemoryMarshal.AsBytes(t.Data.AsSpan()));
        }
    }

    /// <summary>The whole file as bytes (for small files and tests).</summary>
    /// <param name="tensors">As for <see cref="Write(Stream, IReadOnlyList{SafeTensor}, IReadOnlyDictionary{string, string}?)"/>.</param>
    /// <param name="metadata">As for <see cref="Write(Stream, IReadOnlyList{SafeTensor}, IReadOnlyDictionary{string, string}?)"/>.</param>
    public static byte[] Serialize(IReadOnlyList<SafeTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        using var ms = new MemoryStream();
        Write(ms, tensors, metadata);
        return ms.ToArray();
    }

    private static byte[] BuildHeader(IReadOnlyList<SafeTensor> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        using var ms = new MemoryStream();
        using (var json = new Utf8JsonWriter(ms))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject("__metadata__");
                foreach (var (key, value) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                {
                    json.WriteString(key, value);
                }

                json.WriteEndObject();
            }
            long offset = 0;
            foreach (SafeTensor t in tensors)
            {
                ArgumentNullException.ThrowIfNull(t);
                if (t.Name == "__metadata__" || !names.Add(t.Name))
                {
                    throw new ArgumentException($"Tensor name '{t.Name}' is reserved or used twice.", nameof(tensors));
                }

                if (t.Shape.Any(d => d < 0))
                {
                    throw new ArgumentException($"Tensor '{t.Name}' has a negative dimension.", nameof(tensors));
                }

                if (t.ElementCount != t.Data.Length)
                {
                    throw new ArgumentException(
                        $"Tensor '{t.Name}' has {t.Data.Length} elements but shape [{string.Join(", ", t.Shape)}] holds {t.ElementCount}.",
                        nameof(tensors));
                }

                long end = offset + 4L * t.Data.Length;
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", "F32");
                json.WriteStartArray("shape");
                foreach (int d in t.Shape)
                {
                    json.WriteNumberValue(d);
                }

                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(end);
                json.WriteEndArray();
                json.WriteEndObject();
                offset = end;
            }
            json.WriteEndObject();
        }
        // Pad with spaces (valid JSON whitespace) so the data starts 8-byte aligned, as the reference writer does.
        int pad = (int)((8 - ms.Length % 8) % 8);
        for (int i = 0; i < pad; i++)
        {
            ms.WriteByte((byte)' ');
        }

        return ms.ToArray();
    }
}
