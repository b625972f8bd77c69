namespace Xent.Training.Data;

/// <summary>Maps text to token ids in [0, V) and back.</summary>
public interface ITokenizer
{
    /// <summary>Which tokenizer this is (stored in checkpoints).</summary>
    TokenizerKind Kind { get; }

    /// <summary>V: every id is in [0, V).</summary>
    int VocabSize { get; }

    /// <summary>Token ids of <paramref name="text"/>.</summary>
    int[] Encode(string text);

    /// <summary>Text of the ids (N tokens); bytes that do not form valid UTF-8 become U+FFFD.</summary>
    string Decode(ReadOnlySpan<int> ids);

    /// <summary>How many UTF-8 bytes of text the ids stand for (for bits per byte).</summary>
    long ByteCount(ReadOnlySpan<int> ids);
}
