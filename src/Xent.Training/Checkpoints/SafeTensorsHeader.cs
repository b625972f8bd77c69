using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Unicode;

namespace Xent.Training.Checkpoints;

/// <summary>One tensor of a safetensors header; Begin and End count from the first data byte.</summary>
internal sealed record SafeTensorsEntry(string Name, string DType, long[] Shape, long Begin, long End);

/// <summary>
/// The safetensors header: an 8-byte little-endian length n, then n bytes of JSON
/// <c>{"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, "__metadata__": {string: string}}</c>,
/// then the data. The one parser of the format for the checkpoint reader and the CLI's input reader: every
/// malformed header raises <see cref="InvalidDataException"/> naming the problem, before any data is read.
/// </summary>
internal sealed record SafeTensorsHeader(IReadOnlyList<SafeTensorsEntry> Entries,
    IReadOnlyDictionary<string, string> Metadata, long DataStart, long DataLength)
{
    /// <summary>Largest header accepted (the reference implementation's limit as well).</summary>
    public const long MaxBytes = 100L << 20;

    /// <summary>The header's JSON as read (its checksum is over these bytes: <see cref="SafeTensorsChecksum"/>).</summary>
    public byte[] Json { get; init; } = [];

    /// <summary>Reads and checks the header from a seekable stream positioned at the file's start.</summary>
    /// <returns>Entries in header order; DataStart is the stream position of the first data byte.</returns>
    public static SafeTensorsHeader Read(Stream source)
    {
        long fileLength = source.Length - source.Position;
        if (fileLength < 8)
        {
            throw new InvalidDataException($"truncated safetensors file: only {fileLength} bytes, too short to hold the 8-byte header length.");
        }

        Span<byte> lengthBytes = stackalloc byte[8];
        source.ReadExactly(lengthBytes);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (n > MaxBytes)
        {
            throw new InvalidDataException($"malformed safetensors header: it declares an implausible header length of {n} bytes (limit {MaxBytes}): not a safetensors file.");
        }

        if ((long)n > fileLength - 8)
        {
            throw new InvalidDataException($"truncated safetensors header: it declares {n} bytes but only {fileLength - 8} follow.");
        }

        var json = new byte[n];
        source.ReadExactly(json);
        long dataLength = fileLength - 8 - (long)n;
        // The format's header is UTF-8 JSON; JsonDocument checks the bytes of a string only when it is read (a name
        // with an invalid byte would surface as an InvalidOperationException later), so the whole header is checked here.
        if (!Utf8.IsValid(json))
        {
            throw new InvalidDataException("malformed safetensors header: it is not valid UTF-8 text.");
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"malformed safetensors header: it is not valid JSON (invalid JSON: {e.Message})", e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException("malformed safetensors header: not a JSON object.");
            }

            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var entries = new List<SafeTensorsEntry>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            try
            {
                foreach (JsonProperty p in doc.RootElement.EnumerateObject())
                {
                    if (!seen.Add(p.Name))
                    {
                        throw new InvalidDataException($"malformed safetensors header: it names '{p.Name}' twice.");
                    }

                    if (p.Name != "__metadata__")
                    {
                        entries.Add(ParseEntry(p.Name, p.Value, dataLength));
                        continue;
                    }
                    if (p.Value.ValueKind != JsonValueKind.Object)
                    {
                        throw new InvalidDataException("malformed safetensors header: \"__metadata__\" is not an object of strings.");
                    }

                    foreach (JsonProperty m in p.Value.EnumerateObject())
                    {
                        metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()!
                            : throw new InvalidDataException($"malformed safetensors header: metadata value '{m.Name}' is not a string.");
                    }
                }
            }
            catch (InvalidOperationException e)
            {
                // A string escape that is no Unicode text (an unpaired surrogate such as \ud800), found when read.
                throw new InvalidDataException($"malformed safetensors header: a name or string in it is not valid Unicode text ({e.Message})", e);
            }

            RefuseOverlaps(entries);
            return new SafeTensorsHeader(entries, metadata, source.Position, dataLength) { Json = json };
        }
    }

    // Two tensors sharing bytes make one of them wrong data, read without a word (the reference implementation
    // refuses every layout but contiguous tensors). Empty tensors hold no bytes and may sit anywhere.
    private static void RefuseOverlaps(List<SafeTensorsEntry> entries)
    {
        SafeTensorsEntry? previous = null;
        foreach (var e in entries.Where(e => e.End > e.Begin).OrderBy(e => e.Begin))
        {
            if (previous is not null && e.Begin < previous.End)
            {
                throw new InvalidDataException(
                    $"malformed safetensors header: tensors '{previous.Name}' (data bytes [{previous.Begin}, {previous.End})) and '{e.Name}' ([{e.Begin}, {e.End})) overlap; each tensor needs bytes of its own.");
            }

            previous = e;
        }
    }

    private static SafeTensorsEntry ParseEntry(string name, JsonElement entry, long dataLength)
    {
        string where = $"malformed safetensors header: tensor '{name}'";
        if (entry.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"{where} is not an object.");
        }

        if (!entry.TryGetProperty("dtype", out JsonElement dtypeJson) || dtypeJson.ValueKind != JsonValueKind.String)
        {
            throw new InvalidDataException($"{where}: missing \"dtype\" string.");
        }

        string dtype = dtypeJson.GetString()!;
        if (!entry.TryGetProperty("shape", out JsonElement shapeJson) || shapeJson.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidDataException($"{where}: missing \"shape\" array.");
        }

        var shape = new long[shapeJson.GetArrayLength()];
        long elements = 1;
        int i = 0;
        foreach (JsonElement d in shapeJson.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out shape[i]) || shape[i] < 0)
            {
                throw new InvalidDataException($"{where}: shape entry {d} is not a non-negative integer.");
            }
            // Bounding the count by long.MaxValue / 8 keeps every byte length (up to 8-byte elements) exact.
            elements = shape[i] == 0 || elements <= long.MaxValue / 8 / shape[i] ? elements * shape[i++]
                : throw new InvalidDataException($"{where}: shape holds too many elements.");
        }
        if (!entry.TryGetProperty("data_offsets", out JsonElement offsets) || offsets.ValueKind != JsonValueKind.Array
            || offsets.GetArrayLength() != 2)
        {
            throw new InvalidDataException($"{where}: \"data_offsets\" is not a [begin, end] pair.");
        }

        if (offsets[0].ValueKind != JsonValueKind.Number || offsets[1].ValueKind != JsonValueKind.Number
            || !offsets[0].TryGetInt64(out long begin) || !offsets[1].TryGetInt64(out long end) || begin < 0 || end < begin)
        {
            throw new InvalidDataException($"{where}: data_offsets [{offsets[0]}, {offsets[1]}] are not integers 0 <= begin <= end.");
        }

        if (ElementSize(dtype) is int size && end - begin != elements * size)
        {
            throw new InvalidDataException(
                $"{where} ({dtype} shape [{string.Join(", ", shape)}]) needs {elements * size} bytes but data_offsets span {end - begin}.");
        }

        if (end > dataLength)
        {
            throw new InvalidDataException(
                $"truncated data: tensor '{name}' ends at data byte {end}, beyond the {dataLength} data bytes (file truncated?).");
        }

        return new SafeTensorsEntry(name, dtype, shape, begin, end);
    }

    /// <summary>Bytes per element of the format's dtypes; null for one this parser does not know.</summary>
    private static int? ElementSize(string dtype) => dtype switch
    {
        "BOOL" or "U8" or "I8" or "F8_E4M3" or "F8_E5M2" => 1,
        "U16" or "I16" or "F16" or "BF16" => 2,
        "U32" or "I32" or "F32" => 4,
        "U64" or "I64" or "F64" => 8,
        _ => null,
    };
}
