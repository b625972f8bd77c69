using System.Buffers.Binary;
using System.Text;

namespace Xent.Tests.Cli;

/// <summary>Assembles safetensors files by hand from the format description: u64 LE header length, JSON, data.</summary>
internal static class TestSafeTensors
{
    public static string Write(string path, params (string Name, string DType, long[] Shape, byte[] Data)[] tensors)
    {
        var json = new StringBuilder("{\"__metadata__\": {\"format\": \"pt\"}");
        long offset = 0;
        foreach (var t in tensors)
        {
            json.Append($", \"{t.Name}\": {{\"dtype\": \"{t.DType}\", \"shape\": [{string.Join(", ", t.Shape)}], \"data_offsets\": [{offset}, {offset + t.Data.Length}]}}");
            offset += t.Data.Length;
        }

        json.Append('}');
        var header = Encoding.UTF8.GetBytes(json.ToString());
        using var file = File.Create(path);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
        file.Write(length);
        file.Write(header);
        foreach (var t in tensors)
        {
            file.Write(t.Data);
        }

        return path;
    }
}
