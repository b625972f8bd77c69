using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Xent.Cli.Terminal;

namespace Xent.Cli.IO;

/// <summary>
/// The NumPy .npy format (versions 1.0, 2.0 and 3.0): the magic string \x93NUMPY, a version byte pair, a
/// little-endian header length (2 bytes in 1.0, 4 bytes in 2.0/3.0), then a Python dict literal
/// <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (2, 3), }</c> padded with spaces and a newline so that
/// the data starts at a multiple of 64 bytes. The data follows, in C order unless fortran_order is True.
/// </summary>
internal static class NpyFormat
{
    private const int Alignment = 64;

    /// <summary>Longest header (in characters) NumPy's <c>np.load</c> reads without <c>allow_pickle=True</c>.</summary>
    private const int MaxHeaderLength = 10_000;

    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>True when <paramref name="prefix"/> starts with the .npy magic string.</summary>
    public static bool HasMagic(ReadOnlySpan<byte> prefix) => prefix.StartsWith(Magic);

    /// <summary>Reads and validates the header of the .npy file at <paramref name="path"/>, including that the file holds all the data.</summary>
    public static ArrayInfo ReadHeader(string path)
    {
        using var stream = ArrayFiles.OpenRead(path);
        return ReadHeader(stream, path);
    }

    /// <summary>Reads the header from the start of <paramref name="stream"/>, whose length is the file's.</summary>
    public static ArrayInfo ReadHeader(Stream stream, string path)
    {
        long fileLength = stream.Length;
        Span<byte> pre = stackalloc byte[12];
        int got = ReadUpTo(stream, pre);
        if (got < Magic.Length || !HasMagic(pre))
        {
            throw XentCliException.InFile(path, got < Magic.Length && Magic.StartsWith(pre[..got])
                ? $"truncated .npy file: only {fileLength} bytes, too short to hold a header."
                : "not an .npy file: it does not start with the magic string \\x93NUMPY.");
        }

        if (got < 8)
        {
            throw XentCliException.InFile(path, $"truncated .npy header: the file ends after {fileLength} bytes, inside the version number.");
        }

        byte major = pre[6], minor = pre[7];
        if (major is < 1 or > 3 || minor != 0)
        {
            throw XentCliException.InFile(path, $"unsupported .npy format version {major}.{minor}; xent reads versions 1.0, 2.0 and 3.0.");
        }

        int lengthBytes = major == 1 ? 2 : 4;
        int prefixLength = 8 + lengthBytes;
        if (got < prefixLength)
        {
            throw XentCliException.InFile(path, $"truncated .npy header: the file ends after {fileLength} bytes, inside the header length.");
        }

        long headerLength = major == 1 ? BinaryPrimitives.ReadUInt16LittleEndian(pre[8..]) : BinaryPrimitives.ReadUInt32LittleEndian(pre[8..]);
        if (prefixLength + headerLength > fileLength)
        {
            throw XentCliException.InFile(path, $"truncated .npy header: the header declares {headerLength} bytes but the file ends after {fileLength - prefixLength} of them.");
        }

        // More bytes than 4 per character (UTF-8's longest) cannot hold an acceptable header: refuse before reading.
        if (headerLength > 4L * MaxHeaderLength)
        {
            throw XentCliException.InFile(path, $"malformed .npy header: {headerLength} bytes, longer than the {MaxHeaderLength} characters that numpy.load reads (it refuses longer headers unless allow_pickle=True).");
        }

        var headerBytes = new byte[headerLength];
        stream.Position = prefixLength;
        stream.ReadExactly(headerBytes);

        // Versions 1.0 and 2.0 are latin-1 (ASCII in practice); 3.0 is UTF-8 (field names of structured dtypes).
        string header;
        try
        {
            header = major == 3 ? new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(headerBytes) : Encoding.Latin1.GetString(headerBytes);
        }
        catch (DecoderFallbackException)
        {
            throw XentCliException.InFile(path, "malformed .npy header: a version 3.0 header must be UTF-8 text.");
        }

        int characters = header.EnumerateRunes().Count();
        if (characters > MaxHeaderLength)
        {
            throw XentCliException.InFile(path, $"malformed .npy header: {characters} characters, over the {MaxHeaderLength} that numpy.load reads (it refuses longer headers unless allow_pickle=True).");
        }

        var info = ParseHeader(header, path, prefixLength + headerLength, major);
        CheckDataLength(info, fileLength);
        return info;
    }

    /// <summary>
    /// Interprets the header dictionary text as numpy.lib.format does: a Python literal dict with exactly the keys
    /// descr, fortran_order (a bool) and shape (a tuple of ints). <paramref name="dataOffset"/> is where the data
    /// starts; <paramref name="major"/> the format version (1 and 2 may hold Python 2's 2L ints).
    /// </summary>
    public static ArrayInfo ParseHeader(string header, string path, long dataOffset, int major = 1)
    {
        object? literal;
        try
        {
            literal = PythonLiteral.Parse(header, longSuffix: major <= 2);
        }
        catch (FormatException e)
        {
            throw XentCliException.InFile(path, $"malformed .npy header ({e.Message}): {Quote(header)}");
        }

        if (literal is not Dictionary<string, object?> dict)
        {
            throw XentCliException.InFile(path, $"malformed .npy header: it is not a dictionary: {Quote(header)}");
        }

        foreach (string key in dict.Keys)
        {
            if (key is not ("descr" or "fortran_order" or "shape"))
            {
                throw XentCliException.InFile(path, $"malformed .npy header: unexpected key '{key}' (numpy.load reads exactly 'descr', 'fortran_order' and 'shape').");
            }
        }

        var type = Descr(Required(dict, "descr", path), path);
        var shape = Shape(Required(dict, "shape", path), path);
        if (Required(dict, "fortran_order", path) is not bool fortran)
        {
            throw XentCliException.InFile(path, "malformed .npy header: 'fortran_order' must be True or False.");
        }

        // With at most one dimension above 1 the Fortran and C layouts are the same bytes.
        if (fortran && shape.Count(d => d > 1) > 1)
        {
            throw XentCliException.InFile(path, $"the array {ArrayInfo.FormatShape(shape)} is stored in Fortran (column-major) order; xent reads C-order arrays only. Save numpy.ascontiguousarray(a) instead.");
        }

        return new ArrayInfo(path, System.IO.Path.GetFileName(path), type, shape, dataOffset);
    }

    /// <summary>The NumPy dtype string of <paramref name="type"/> (little-endian).</summary>
    public static string Descr(ElementType type) => type switch
    {
        ElementType.Float16 => "<f2",
        ElementType.Float32 => "<f4",
        ElementType.Float64 => "<f8",
        ElementType.Int32 => "<i4",
        ElementType.Int64 => "<i8",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, ".npy has no standard dtype for this type."),
    };

    /// <summary>
    /// The bytes before the data of an .npy file holding <paramref name="type"/> of <paramref name="shape"/>:
    /// version 1.0 when the header fits in 65535 bytes (it always does for rank below a few thousand), else 2.0.
    /// </summary>
    public static byte[] Header(ElementType type, ReadOnlySpan<long> shape)
    {
        var dims = shape.Length == 1 ? $"{shape[0]}," : string.Join(", ", shape.ToArray().Select(d => d.ToString(CultureInfo.InvariantCulture)));
        string dict = $"{{'descr': '{Descr(type)}', 'fortran_order': False, 'shape': ({dims}), }}";
        int major = dict.Length + 1 + 10 <= ushort.MaxValue ? 1 : 2;
        int prefix = major == 1 ? 10 : 12;
        int total = (prefix + dict.Length + 1 + Alignment - 1) / Alignment * Alignment;
        var bytes = new byte[total];
        Magic.CopyTo(bytes);
        bytes[6] = (byte)major;
        bytes[7] = 0;
        int headerLength = total - prefix;
        if (major == 1)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)headerLength);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), (uint)headerLength);
        }

        Encoding.ASCII.GetBytes(dict, bytes.AsSpan(prefix));
        bytes.AsSpan(prefix + dict.Length, headerLength - dict.Length - 1).Fill((byte)' ');
        bytes[^1] = (byte)'\n';
        return bytes;
    }

    private static void CheckDataLength(ArrayInfo info, long fileLength)
    {
        long available = fileLength - info.DataOffset;
        if (available < info.ByteLength)
        {
            throw XentCliException.InFile(info.Path, $"truncated data: a {info.Type.Name()} array of shape {info.ShapeText} needs {info.ByteLength} bytes after the header but the file has {available}.");
        }

        // Bytes after the data are ignored, as numpy.load ignores them.
    }

    private static object? Required(Dictionary<string, object?> dict, string key, string path) =>
        dict.TryGetValue(key, out var value) ? value : throw XentCliException.InFile(path, $"malformed .npy header: the key '{key}' is missing.");

    private static ElementType Descr(object? descr, string path)
    {
        if (descr is not string s)
        {
            throw XentCliException.InFile(path, descr is List<object?> or PythonTuple
                ? "unsupported dtype: structured (record) and sub-array dtypes are not supported; save a plain numeric array."
                : "malformed .npy header: 'descr' is not a dtype string.");
        }

        if (DtypeNames.TryGetValue(s, out var type))
        {
            return type;
        }

        if (s.Length > 1 && s[0] == '>' && DtypeNames.TryGetValue("<" + s[1..], out _))
        {
            throw XentCliException.InFile(path, $"unsupported dtype '{s}': the array is big-endian; save it little-endian, e.g. a.astype('<{s[1..]}').");
        }

        throw XentCliException.InFile(path, $"unsupported dtype '{s}'; xent reads float16, float32 or float64 ('<f2', '<f4', '<f8') for logits and weights, int32 or int64 ('<i4', '<i8') for targets.");
    }

    /// <summary>
    /// Every dtype string numpy.dtype() reads as one of xent's types in little-endian (or native, on the
    /// little-endian machines .NET runs on) byte order, as NumPy 1.24 on 64-bit Linux names them ('l' and 'long'
    /// are int64 there).
    /// </summary>
    private static readonly Dictionary<string, ElementType> DtypeNames = BuildDtypeNames();

    private static Dictionary<string, ElementType> BuildDtypeNames()
    {
        var names = new Dictionary<string, ElementType>(StringComparer.Ordinal);
        void Add(ElementType type, string[] codes, string[] words)
        {
            foreach (string code in codes)
            {
                foreach (string order in new[] { "", "<", "=", "|" })
                {
                    names[order + code] = type;
                }
            }

            foreach (string word in words)
            {
                names[word] = type;
            }
        }

        Add(ElementType.Float16, ["f2", "e"], ["float16", "half"]);
        Add(ElementType.Float32, ["f4", "f"], ["float32", "single"]);
        Add(ElementType.Float64, ["f8", "d"], ["float64", "double", "float", "float_"]);
        Add(ElementType.Int32, ["i4", "i"], ["int32", "intc"]);
        Add(ElementType.Int64, ["i8", "l", "q", "p"], ["int64", "int", "int0", "int_", "intp", "long", "longlong"]);
        return names;
    }

    private static long[] Shape(object? shape, string path)
    {
        if (shape is not PythonTuple tuple)
        {
            throw XentCliException.InFile(path, "malformed .npy header: 'shape' must be a tuple of integers such as (2, 3) or (5,)" + (shape is List<object?> ? ", not a list." : "."));
        }

        var items = tuple.Items;
        var dims = new long[items.Count];
        for (int i = 0; i < dims.Length; i++)
        {
            if (items[i] is not System.Numerics.BigInteger d || d < 0 || d > long.MaxValue)
            {
                throw XentCliException.InFile(path, $"malformed .npy header: shape entry {i} is not a non-negative integer.");
            }

            dims[i] = (long)d;
        }

        try
        {
            _ = ArrayInfo.ElementCount(dims);
        }
        catch (OverflowException)
        {
            throw XentCliException.InFile(path, $"malformed .npy header: the shape {ArrayInfo.FormatShape(dims)} is too large.");
        }

        return dims;
    }

    private static string Quote(string header)
    {
        var t = header.TrimEnd();
        return t.Length <= 200 ? t : t[..200] + "...";
    }

    private static int ReadUpTo(Stream stream, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = stream.Read(buffer[total..]);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }
}
