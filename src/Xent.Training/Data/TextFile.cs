using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Xent.Training.Data;

/// <summary>
/// A UTF-8 text file read whole, once: a pipe or a FIFO (<c>--text &lt;(cat FILE)</c>, /dev/stdin) cannot be read
/// again, nor its size asked beforehand (0 on disk), so what depends on the text is decided from this.
/// </summary>
/// <param name="Path">The path it was read from, as given.</param>
/// <param name="Text">Its characters (a leading byte-order mark dropped).</param>
/// <param name="Bytes">The bytes read, the byte-order mark included: a regular file's size.</param>
/// <param name="Sha256">The SHA-256 of those bytes, in lower-case hex: the text's identity, whatever its path.</param>
/// <param name="Piped">Whether it came from a pipe or a FIFO (not seekable), which its path cannot give again.</param>
public sealed record TextFile(string Path, string Text, long Bytes, string Sha256, bool Piped)
{
    /// <summary>
    /// Reads a file as strict UTF-8, with clear errors for a missing, empty or non-UTF-8 file (UTF-16 or UTF-32 without a
    /// byte-order mark included, whose NUL bytes are valid UTF-8).
    /// </summary>
    /// <param name="path">The file.</param>
    /// <exception cref="TrainingInputException">A folder, a missing, unreadable, empty or non-UTF-8 file.</exception>
    public static TextFile Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path))
        {
            throw new TrainingInputException($"'{path}' is a folder; give the path of a UTF-8 text file.");
        }

        if (!File.Exists(path))
        {
            throw new TrainingInputException($"The text file '{path}' does not exist.");
        }

        if (StandardInput.IsNamedBy(path) && StandardInput.WasClosed())
        {
            throw new TrainingInputException(
                $"The text file '{path}' cannot be read: standard input is closed (xent was started with <&- or from a service " +
                "without one), and what now has its number is a pipe of the runtime's own, which nothing writes to. Pipe the text " +
                $"in (cat FILE | xent ... {path}) or give the file's path.");
        }

        byte[] bytes;
        bool piped;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            piped = !stream.CanSeek;
            long length = piped ? 0 : stream.Length;
            // A file of known size is read into one array of that size (as File.ReadAllBytes did): a growing buffer
            // and its copy held up to three times a large text's bytes at once. A pipe's size is unknown, and files
            // such as /proc's say 0.
            if (length > Array.MaxLength)
            {
                throw new IOException($"it holds {length:N0} bytes, more than one array can ({Array.MaxLength:N0}).");
            }

            if (length > 0)
            {
                bytes = GC.AllocateUninitializedArray<byte>((int)length);
                stream.ReadExactly(bytes);
            }
            else
            {
                using var all = new MemoryStream();
                stream.CopyTo(all);
                bytes = all.ToArray();
            }
        }
        catch (IOException e)
        {
            throw new TrainingInputException($"The text file '{path}' cannot be read: {e.Message}", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new TrainingInputException($"The text file '{path}' cannot be read: {e.Message}", e);
        }
        ReadOnlySpan<byte> span = bytes;
        int mark = span.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? 3 : 0;
        span = span[mark..];
        if (span.IsEmpty)
        {
            throw new TrainingInputException($"The text file '{path}' is empty.");
        }

        if (WideText.Problem(path, span) is { } wide)
        {
            throw new TrainingInputException(wide);
        }

        try
        {
            return new TextFile(path, new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(span), bytes.Length,
                Convert.ToHexStringLower(SHA256.HashData(bytes)), piped);
        }
        catch (DecoderFallbackException e)
        {
            throw new TrainingInputException($"The text file '{path}' is not valid UTF-8: {Where(bytes, e, mark)}.", e);
        }
    }

    // The decoder's index counts from after the byte-order mark, and its message speaks of code pages; a file saved as
    // UTF-16 (Windows' "Unicode") or UTF-32 fails at its own byte-order mark, which says what it is.
    private static string Where(byte[] bytes, DecoderFallbackException e, int mark)
    {
        if (WideText.MarkedEncoding(bytes) is { } encoding)
        {
            return $"it starts with a {encoding} byte-order mark (convert it, e.g. iconv -f {encoding} -t UTF-8)";
        }

        byte[] unknown = e.BytesUnknown ?? [];
        string hex = string.Join(' ', unknown.Select(b => b.ToString("X2", CultureInfo.InvariantCulture)));
        return string.Create(CultureInfo.InvariantCulture, $"{(unknown.Length == 1 ? "byte" : "bytes")} {hex} at offset {mark + e.Index}");
    }
}
