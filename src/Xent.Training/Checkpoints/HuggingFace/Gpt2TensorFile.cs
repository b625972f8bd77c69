using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Xent.Training.Data;

namespace Xent.Training.Checkpoints.HuggingFace;

/// <summary>
/// One safetensors file opened for reading tensor by tensor (so a large checkpoint is never held twice), each
/// converted to float32 from F32, F16, BF16 or F64. The header is checked by <see cref="SafeTensorsHeader"/>; every
/// error names the file and the tensor.
/// </summary>
internal sealed class Gpt2TensorFile : IDisposable
{
    private readonly FileStream stream;
    private readonly SafeTensorsHeader header;
    private readonly Dictionary<string, SafeTensorsEntry> entries;

    private Gpt2TensorFile(string path, FileStream stream, SafeTensorsHeader header)
    {
        Path = path;
        this.stream = stream;
        this.header = header;
        entries = header.Entries.ToDictionary(e => e.Name, StringComparer.Ordinal);
    }

    /// <summary>The file's path.</summary>
    public string Path { get; }

    /// <summary>Tensor names, in header order.</summary>
    public IEnumerable<string> Names => header.Entries.Select(e => e.Name);

    /// <summary>Opens and checks the header.</summary>
    public static Gpt2TensorFile Open(string path)
    {
        if (!File.Exists(path))
        {
            throw new TrainingInputException($"{path}: no such file.");
        }

        FileStream stream;
        try
        {
            stream = CheckpointFiles.Current.OpenRead(path);
        }
        catch (Exception e) when (FileProblems.IsReadFailure(e))
        {
            throw FileProblems.ReadFailure(e, path, "loading the checkpoint");
        }

        try
        {
            return new Gpt2TensorFile(path, stream, SafeTensorsHeader.Read(stream));
        }
        catch (InvalidDataException e)
        {
            stream.Dispose();
            throw new TrainingInputException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>
    /// The number of values its float tensors (those <see cref="Read"/> reads) hold together: each backed by bytes of its
    /// own in the file, so at most the file's length over 2.
    /// </summary>
    public double Values => header.Entries.Where(e => e.DType is "F32" or "F16" or "BF16" or "F64")
        .Sum(e => e.Shape.Aggregate(1.0, (count, d) => count * d));

    /// <summary>The tensor's shape, or null when the file has no tensor of that name.</summary>
    public long[]? Shape(string name) => entries.TryGetValue(name, out var e) ? e.Shape : null;

    /// <summary>The tensor's elements as float32, row-major.</summary>
    public float[] Read(string name)
    {
        var e = entries[name];
        int size = e.DType switch
        {
            "F32" => 4,
            "F16" or "BF16" => 2,
            "F64" => 8,
            _ => throw new TrainingInputException($"{Path}: tensor '{name}' has dtype {e.DType}; Xent reads F32, F16, BF16 and F64."),
        };
        long count = (e.End - e.Begin) / size;
        if (count > Array.MaxLength)
        {
            throw new TrainingInputException($"{Path}: tensor '{name}' has more elements than an array holds.");
        }

        var values = new float[count];
        stream.Position = header.DataStart + e.Begin;
        try
        {
            if (size == 4)
            {
                stream.ReadExactly(MemoryMarshal.AsBytes(values.AsSpan()));
                return values;
            }

            var bytes = new byte[e.End - e.Begin];
            stream.ReadExactly(bytes);
            for (long i = 0; i < count; i++)
            {
                var b = bytes.AsSpan((int)(i * size), size);
                values[i] = e.DType switch
                {
                    "F16" => (float)BinaryPrimitives.ReadHalfLittleEndian(b),
                    "BF16" => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(b) << 16),
                    _ => (float)BinaryPrimitives.ReadDoubleLittleEndian(b),
                };
            }

            return values;
        }
        catch (EndOfStreamException ex)
        {
            throw new TrainingInputException($"{Path}: tensor '{name}' is cut short (file truncated?).", ex);
        }
    }

    public void Dispose() => stream.Dispose();
}
