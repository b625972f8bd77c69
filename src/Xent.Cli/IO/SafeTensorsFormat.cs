using System.Buffers.Binary;
using Xent.Cli.Terminal;
using Xent.Training.Checkpoints;

namespace Xent.Cli.IO;

/// <summary>
/// safetensors inputs of xent loss: the header is parsed and checked by <see cref="SafeTensorsHeader"/>; this maps
/// a tensor's dtype to the element types xent reads and turns every problem into an error naming the file.
/// </summary>
internal static class SafeTensorsFormat
{
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
        return ReadHeader(stream, path).Entries.Select(e => e.Name).ToArray();
    }

    /// <summary>Reads the header from the start of <paramref name="stream"/> and returns the tensor named <paramref name="tensor"/>.</summary>
    public static ArrayInfo ReadTensor(Stream stream, string path, string tensor)
    {
        var header = ReadHeader(stream, path);
        var entry = header.Entries.FirstOrDefault(e => e.Name == tensor)
            ?? throw XentCliException.InFile(path, $"no tensor named '{tensor}' (the file holds: {string.Join(", ", header.Entries.Select(e => e.Name))}).");
        var type = entry.DType switch
        {
            "F16" => ElementType.Float16,
            "BF16" => ElementType.BFloat16,
            "F32" => ElementType.Float32,
            "F64" => ElementType.Float64,
            "I32" => ElementType.Int32,
            "I64" => ElementType.Int64,
            _ => throw XentCliException.InFile(path, $"tensor '{tensor}' has unsupported dtype '{entry.DType}'; xent reads F16, BF16, F32, F64 (logits, weights) and I32, I64 (targets)."),
        };
        return new ArrayInfo(path, tensor, type, entry.Shape, header.DataStart + entry.Begin);
    }

    private static SafeTensorsHeader ReadHeader(Stream stream, string path)
    {
        try
        {
            return SafeTensorsHeader.Read(stream);
        }
        catch (InvalidDataException e)
        {
            throw XentCliException.InFile(path, e.Message);
        }
    }
}
