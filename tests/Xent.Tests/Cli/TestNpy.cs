using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace Xent.Tests.Cli;

/// <summary>
/// Writes and reads .npy files for the tests, straight from the format description (NEP 1 / numpy.lib.format),
/// independently of the CLI's own reader and writer: magic \x93NUMPY, version, header length, dict, 64-byte padding.
/// </summary>
internal static class TestNpy
{
    public static byte[] Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>The dict text numpy writes, e.g. {'descr': '&lt;f4', 'fortran_order': False, 'shape': (2, 3), }.</summary>
    public static string Dict(string descr, params long[] shape) =>
        $"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({Shape(shape)}), }}";

    public static string Shape(long[] shape) => shape.Length == 1 ? $"{shape[0]}," : string.Join(", ", shape);

    /// <summary>A complete file: preamble of <paramref name="major"/>.0, the dict padded to 64 bytes, then the data.</summary>
    public static byte[] File(string dict, ReadOnlySpan<byte> data, int major = 1)
    {
        int prefix = major == 1 ? 10 : 12;
        var dictBytes = major == 3 ? Encoding.UTF8.GetBytes(dict) : Encoding.ASCII.GetBytes(dict);
        int total = (prefix + dictBytes.Length + 1 + 63) / 64 * 64;
        var bytes = new byte[total + data.Length];
        Magic.CopyTo(bytes, 0);
        bytes[6] = (byte)major;
        int headerLength = total - prefix;
        if (major == 1)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)headerLength);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), (uint)headerLength);
        }

        dictBytes.CopyTo(bytes, prefix);
        bytes.AsSpan(prefix + dictBytes.Length, headerLength - dictBytes.Length).Fill((byte)' ');
        bytes[total - 1] = (byte)'\n';
        data.CopyTo(bytes.AsSpan(total));
        return bytes;
    }

    public static string Write<T>(string path, string descr, ReadOnlySpan<T> values, params long[] shape)
        where T : unmanaged
    {
        System.IO.File.WriteAllBytes(path, File(Dict(descr, shape), MemoryMarshal.AsBytes(values)));
        return path;
    }

    public static string F32(string path, ReadOnlySpan<float> v, params long[] shape) => Write(path, "<f4", v, shape);

    public static string I64(string path, ReadOnlySpan<long> v, params long[] shape) => Write(path, "<i8", v, shape);

    public static string I32(string path, ReadOnlySpan<int> v, params long[] shape) => Write(path, "<i4", v, shape);

    /// <summary>Reads a little-endian .npy written by xent: returns descr, shape and the raw data.</summary>
    public static (string Descr, long[] Shape, byte[] Data) Read(string path)
    {
        var bytes = System.IO.File.ReadAllBytes(path);
        Assert.True(bytes.AsSpan().StartsWith(Magic), "magic");
        int major = bytes[6];
        Assert.Equal(0, bytes[7]);
        int prefix = major == 1 ? 10 : 12;
        int headerLength = major == 1 ? BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8)) : (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
        Assert.Equal(0, (prefix + headerLength) % 64);
        string header = Encoding.ASCII.GetString(bytes, prefix, headerLength);
        Assert.EndsWith("\n", header, StringComparison.Ordinal);
        string descr = Between(header, "'descr': '", "'");
        Assert.Equal("False", Between(header, "'fortran_order': ", ","));
        var shape = Between(header, "'shape': (", ")").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(long.Parse).ToArray();
        return (descr, shape, bytes[(prefix + headerLength)..]);
    }

    public static float[] ReadF32(string path, out long[] shape)
    {
        var (descr, s, data) = Read(path);
        Assert.Equal("<f4", descr);
        shape = s;
        return MemoryMarshal.Cast<byte, float>(data).ToArray();
    }

    private static string Between(string text, string start, string end)
    {
        int i = text.IndexOf(start, StringComparison.Ordinal);
        Assert.True(i >= 0, $"'{start}' in {text}");
        i += start.Length;
        return text[i..text.IndexOf(end, i, StringComparison.Ordinal)];
    }
}
