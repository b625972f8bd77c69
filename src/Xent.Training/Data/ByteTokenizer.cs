using System.Text;

namespace Xent.Training.Data;

/// <summary>One token per UTF-8 byte (V = 256): no vocabulary file, every text round-trips exactly.</summary>
public sealed class ByteTokenizer : ITokenizer
{
    /// <summary>The shared instance.</summary>
    public static ByteTokenizer Instance { get; } = new();

    /// <inheritdoc/>
    public TokenizerKind Kind => TokenizerKind.Bytes;

    /// <inheritdoc/>
    public int VocabSize => 256;

    /// <inheritdoc/>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        var ids = new int[bytes.Length];
        for (int i = 0; i < bytes.Length; i++)
        {
            ids[i] = bytes[i];
        }

        return ids;
    }

    /// <summary>Token ids of raw UTF-8 bytes (one per byte).</summary>
    /// <param name="bytes">N bytes.</param>
    public static int[] FromBytes(ReadOnlySpan<byte> bytes)
    {
        var ids = new int[bytes.Length];
        for (int i = 0; i < bytes.Length; i++)
        {
            ids[i] = bytes[i];
        }

        return ids;
    }

    /// <inheritdoc/>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var bytes = new byte[ids.Length];
        for (int i = 0; i < ids.Length; i++)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(ids[i]);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(ids[i], 255);
            bytes[i] = (byte)ids[i];
        }
        return Encoding.UTF8.GetString(bytes);
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside [0, 256), as <see cref="Decode"/> refuses it.</exception>
    public long ByteCount(ReadOnlySpan<int> ids)
    {
        // Counted one byte each without a look, an id no byte has gave bits per byte over bytes no text has.
        foreach (int id in ids)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(id, nameof(ids));
            ArgumentOutOfRangeException.ThrowIfGreaterThan(id, 255, nameof(ids));
        }

        return ids.Length;
    }
}
