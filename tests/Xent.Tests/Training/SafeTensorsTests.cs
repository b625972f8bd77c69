using System.Buffers.Binary;
using System.Text;
using Xent.Training.Checkpoints;

namespace Xent.Tests.Training;

public class SafeTensorsTests
{
    private static readonly SafeTensor[] Tiny =
    [
        new("a", [2], [1f, 2f]),
        new("b", [1, 1], [-0.5f]),
    ];

    private static (IReadOnlyList<SafeTensor> Tensors, IReadOnlyDictionary<string, string> Metadata) Parse(byte[] bytes)
    {
        using var ms = new MemoryStream(bytes);
        return SafeTensorsReader.Read(ms);
    }

    [Fact]
    public void Tiny_file_has_the_exact_safetensors_layout()
    {
        byte[] file = SafeTensorsWriter.Serialize(Tiny, new Dictionary<string, string> { ["k"] = "v" });

        const string json = "{\"__metadata__\":{\"k\":\"v\"}," +
            "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}," +
            "\"b\":{\"dtype\":\"F32\",\"shape\":[1,1],\"data_offsets\":[8,12]}}";
        Assert.Equal(135, json.Length);
        var expected = new List<byte>();
        expected.AddRange([136, 0, 0, 0, 0, 0, 0, 0]);      // u64 LE header length: 135 + 1 space of padding
        expected.AddRange(Encoding.ASCII.GetBytes(json + " "));
        expected.AddRange([0x00, 0x00, 0x80, 0x3F]);          // 1.0f little-endian
        expected.AddRange([0x00, 0x00, 0x00, 0x40]);          // 2.0f
        expected.AddRange([0x00, 0x00, 0x00, 0xBF]);          // -0.5f
        Assert.Equal(expected.ToArray(), file);
        Assert.Equal(0, (8 + 136) % 8);                      // data starts 8-byte aligned
    }

    [Fact]
    public void Round_trip_keeps_names_shapes_values_and_metadata()
    {
        var rng = new Random(1);
        var tensors = new[]
        {
            new SafeTensor("w.0", [3, 4], Enumerable.Range(0, 12).Select(_ => (float)rng.NextDouble()).ToArray()),
            new SafeTensor("scalar", [], [float.MaxValue]),
            new SafeTensor("empty", [0, 5], []),
            new SafeTensor("bias", [4], [float.Epsilon, -0f, 1e-30f, -7f]),
        };
        var meta = new Dictionary<string, string> { ["step"] = "12", ["note"] = "ünïcode \"quoted\"" };
        var (read, readMeta) = Parse(SafeTensorsWriter.Serialize(tensors, meta));
        Assert.Equal(tensors.Length, read.Count);
        for (int i = 0; i < tensors.Length; i++)
        {
            Assert.Equal(tensors[i].Name, read[i].Name);
            Assert.Equal(tensors[i].Shape, read[i].Shape);
            Assert.Equal(tensors[i].Data.Select(BitConverter.SingleToInt32Bits), read[i].Data.Select(BitConverter.SingleToInt32Bits));
        }
        Assert.Equal(meta, readMeta);
    }

    [Fact]
    public void File_without_metadata_reads_with_empty_metadata()
    {
        var (t, m) = Parse(SafeTensorsWriter.Serialize(Tiny));
        Assert.Empty(m);
        Assert.Equal(2, t.Count);
    }

    [Fact]
    public void Writer_rejects_a_shape_that_does_not_match_the_data()
    {
        var e = Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Serialize([new SafeTensor("x", [2, 2], [1f])]));
        Assert.Contains("'x'", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Serialize([new SafeTensor("x", [1], [1f]), new SafeTensor("x", [1], [1f])]));
    }

    private static byte[] WithHeader(string json, int dataBytes)
    {
        byte[] h = Encoding.UTF8.GetBytes(json);
        var file = new byte[8 + h.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)h.Length);
        h.CopyTo(file, 8);
        return file;
    }

    [Theory]
    [InlineData(3, "truncated")]                 // inside the length field
    [InlineData(20, "truncated")]                // inside the header
    [InlineData(128, "(file truncated?)")]       // inside the data
    public void Truncated_files_are_rejected(int keep, string message)
    {
        byte[] file = SafeTensorsWriter.Serialize(Tiny);
        Assert.Equal(132, file.Length);
        var e = Assert.Throws<InvalidDataException>(() => Parse(file[..keep]));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Huge_header_length_is_rejected()
    {
        byte[] file = SafeTensorsWriter.Serialize(Tiny);
        BinaryPrimitives.WriteUInt64LittleEndian(file, ulong.MaxValue);
        var e = Assert.Throws<InvalidDataException>(() => Parse(file));
        Assert.Contains("not a safetensors file", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]", 4, "not valid JSON")]
    [InlineData("[1,2]", 0, "not a JSON object")]
    [InlineData("{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "dtype F16; only F32")]
    [InlineData("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "missing \"dtype\"")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 2, "beyond the 2 data bytes")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "needs 8")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, "begin <= end")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "non-negative")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "overlap")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "expected 0")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, "cover 4")]
    [InlineData("{\"__metadata__\":{\"k\":1}}", 0, "not a string")]
    [InlineData("{\"a\":[1]}", 0, "tensor 'a' is not an object")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "missing \"shape\"")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "[begin, end] pair")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",4]}}", 4, "not integers")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,4]}}", 4, "too many elements")]
    [InlineData("{\"__metadata__\":[1]}", 0, "not an object of strings")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "twice")]
    public void Corrupt_headers_are_rejected_with_a_clear_message(string header, int dataBytes, string message)
    {
        var e = Assert.Throws<InvalidDataException>(() => Parse(WithHeader(header, dataBytes)));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Shared_header_checks_byte_lengths_of_known_dtypes_and_passes_unknown_ones_on()
    {
        using var ms = new MemoryStream(WithHeader(
            "{\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,6]},\"q\":{\"dtype\":\"Q4\",\"shape\":[8],\"data_offsets\":[6,10]}}", 10));
        var header = SafeTensorsHeader.Read(ms);
        Assert.Equal(["h", "q"], header.Entries.Select(e => e.Name));
        Assert.Equal(("Q4", 6L, 10L), (header.Entries[1].DType, header.Entries[1].Begin, header.Entries[1].End));
        Assert.Equal((ms.Length - 10, 10L), (header.DataStart, header.DataLength));
        using var bad = new MemoryStream(WithHeader("{\"h\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,4]}}", 4));
        var e = Assert.Throws<InvalidDataException>(() => SafeTensorsHeader.Read(bad));
        Assert.Contains("(BF16 shape [3]) needs 6 bytes but data_offsets span 4", e.Message, StringComparison.Ordinal);
    }
}
