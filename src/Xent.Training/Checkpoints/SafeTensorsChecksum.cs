using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;

namespace Xent.Training.Checkpoints;

/// <summary>
/// A checksum of a whole safetensors file kept in its own metadata: the XxHash3 of every byte of the file (length,
/// header, data) as written with the checksum's value still 16 zeros, stored as 16 hex digits in that place. A
/// file changed after it was written (bit rot, a damaged copy of the same length) no longer hashes to it, whether
/// the change is in a tensor, a shape or the metadata.
/// </summary>
internal static class SafeTensorsChecksum
{
    private const string Placeholder = "0000000000000000";

    /// <summary>Metadata with the checksum's place kept (its value zeros until the hash is known).</summary>
    public static Dictionary<string, string> WithPlace(IReadOnlyDictionary<string, string>? metadata, string key)
    {
        var withPlace = metadata is null ? [] : new Dictionary<string, string>(metadata, StringComparer.Ordinal);
        withPlace[key] = Placeholder;
        return withPlace;
    }

    /// <summary>Writes the hash of the file <paramref name="header"/> and <paramref name="data"/> make into its place in the header.</summary>
    public static void Fill(byte[] header, string key, IEnumerable<float[]> data)
    {
        int at = Place(header, key, Placeholder);
        Ascii.FromUtf16(Format(Hash(header, data)), header.AsSpan(at, Placeholder.Length), out _);
    }

    /// <summary>
    /// Whether the file of <paramref name="header"/> (as read, the checksum's value in place) and <paramref name="data"/>
    /// (in file order) hashes to <paramref name="stored"/>, the checksum its metadata holds; the hash found when not.
    /// </summary>
    public static string? Mismatch(byte[] header, string key, string stored, IEnumerable<float[]> data)
    {
        int at = Place(header, key, stored);
        if (at < 0 || stored.Length != Placeholder.Length)
        {
            // Not where this writer puts it (an escaped key, a value of another length): it cannot have been written so.
            return "none (the checksum is not where xent writes it)";
        }

        byte[] zeroed = (byte[])header.Clone();
        Encoding.ASCII.GetBytes(Placeholder, zeroed.AsSpan(at));
        string found = Format(Hash(zeroed, data));
        return string.Equals(found, stored, StringComparison.Ordinal) ? null : found;
    }

    private static ulong Hash(byte[] header, IEnumerable<float[]> data)
    {
        var hash = new XxHash3();
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
        hash.Append(length);
        hash.Append(header);
        foreach (float[] part in data)
        {
            hash.Append(MemoryMarshal.AsBytes(part.AsSpan()));
        }

        return hash.GetCurrentHashAsUInt64();
    }

    private static string Format(ulong hash) => hash.ToString("x16", CultureInfo.InvariantCulture);

    // Where the value of "key":"value" starts in the header's JSON, as Utf8JsonWriter writes a plain ASCII key: -1 if absent.
    private static int Place(byte[] header, string key, string value)
    {
        byte[] pair = Encoding.UTF8.GetBytes($"\"{key}\":\"{value}\"");
        int at = header.AsSpan().IndexOf(pair);
        return at < 0 ? -1 : at + pair.Length - value.Length - 1;
    }
}
