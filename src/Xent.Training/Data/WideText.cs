using System.Globalization;

namespace Xent.Training.Data;

/// <summary>
/// Tells UTF-16 and UTF-32 saved without a byte-order mark from UTF-8: ASCII characters in them are valid UTF-8 with
/// NUL bytes between them (one in 2, three in 4), which would be trained on as garbage. UTF-8 text has next to no NUL,
/// so a file whose first 64 KiB are a quarter NUL or more is refused; the 16- or 32-bit units with the NUL in their high
/// bytes say which encoding it evidently is.
/// </summary>
internal static class WideText
{
    private const int Sample = 1 << 16;

    /// <summary>Why <paramref name="bytes"/> (after any UTF-8 byte-order mark) are not UTF-8 text, or null where they may be.</summary>
    /// <param name="path">The file, as given.</param>
    /// <param name="bytes">Its bytes.</param>
    public static string? Problem(string path, ReadOnlySpan<byte> bytes)
    {
        // A UTF-16 or UTF-32 byte-order mark is invalid UTF-8, which the decoder's refusal names.
        if (MarkedEncoding(bytes) is not null)
        {
            return null;
        }

        var sample = bytes[..Math.Min(bytes.Length, Sample)];
        int nul = sample.Count((byte)0);
        if (nul * 4L < sample.Length)
        {
            return null;
        }

        string bytesRead = sample.Length == bytes.Length ? "its" : "its first";
        string found = string.Create(CultureInfo.InvariantCulture, $"{nul:N0} of {bytesRead} {sample.Length:N0} bytes are NUL (0x00), which UTF-8 text does not have");
        return Encoding(sample) is { } name
            ? $"The text file '{path}' is not UTF-8 text: it looks like {name} saved without a byte-order mark ({found}). " +
              $"Convert it to UTF-8 (e.g. iconv -f {name} -t UTF-8 '{path}' > text.txt) and give that file."
            : $"The text file '{path}' is not UTF-8 text: {found}, as in UTF-16 or UTF-32 saved without a byte-order mark or in a " +
              "file that is not text. Convert it to UTF-8 (iconv -f ENCODING -t UTF-8) and give that file.";
    }

    /// <summary>
    /// The encoding whose byte-order mark starts <paramref name="bytes"/>, as iconv names the one that reads the mark
    /// (UTF-16 or UTF-32), or null. UTF-32LE's mark begins with UTF-16LE's, so it is tested first.
    /// </summary>
    public static string? MarkedEncoding(ReadOnlySpan<byte> bytes) =>
        bytes.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE, 0x00, 0x00]) || bytes.StartsWith((ReadOnlySpan<byte>)[0x00, 0x00, 0xFE, 0xFF]) ? "UTF-32"
        : bytes.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE]) || bytes.StartsWith((ReadOnlySpan<byte>)[0xFE, 0xFF]) ? "UTF-16"
        : null;

    // The encoding (as iconv names it) most of whose units hold a character below 256 beside NULs: 'a' is 61 00 in
    // UTF-16LE, 00 61 in UTF-16BE, 61 00 00 00 in UTF-32LE and 00 00 00 61 in UTF-32BE. UTF-32 first: its units are
    // UTF-16's too.
    private static string? Encoding(ReadOnlySpan<byte> b)
    {
        int quads = b.Length / 4, little32 = 0, big32 = 0, pairs = b.Length / 2, little16 = 0, big16 = 0;
        for (int i = 0; i + 3 < b.Length; i += 4)
        {
            little32 += b[i] != 0 && b[i + 1] == 0 && b[i + 2] == 0 && b[i + 3] == 0 ? 1 : 0;
            big32 += b[i] == 0 && b[i + 1] == 0 && b[i + 2] == 0 && b[i + 3] != 0 ? 1 : 0;
        }

        for (int i = 0; i + 1 < b.Length; i += 2)
        {
            little16 += b[i] != 0 && b[i + 1] == 0 ? 1 : 0;
            big16 += b[i] == 0 && b[i + 1] != 0 ? 1 : 0;
        }

        return little32 * 2 > quads && quads > 0 ? "UTF-32LE"
            : big32 * 2 > quads && quads > 0 ? "UTF-32BE"
            : little16 * 2 > pairs ? "UTF-16LE"
            : big16 * 2 > pairs ? "UTF-16BE"
            : null;
    }
}
