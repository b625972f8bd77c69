using System.Buffers;
using System.Globalization;
using System.Text;

namespace Xent.Training.Data;

/// <summary>Prints the Markov corpus's symbols as the characters of <see cref="MarkovChain.Alphabet"/>.</summary>
public sealed class MarkovTokenizer : ITokenizer
{
    /// <summary>A tokenizer for V symbols.</summary>
    /// <param name="symbols">V, between 2 and the alphabet's length.</param>
    public MarkovTokenizer(int symbols)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(symbols, 2);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(symbols, MarkovChain.Alphabet.Length);
        VocabSize = symbols;
    }

    /// <inheritdoc/>
    public TokenizerKind Kind => TokenizerKind.Markov;

    /// <inheritdoc/>
    public int VocabSize { get; }

    /// <summary>One id per character; a character outside the first V of the alphabet is bad input.</summary>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new int[text.Length];
        for (int i = 0; i < text.Length; i++)
        {
            int id = MarkovChain.Alphabet.IndexOf(text[i], StringComparison.Ordinal);
            if (id < 0 || id >= VocabSize)
            {
                throw new TrainingInputException(
                    $"{Describe(text, i)} is not a symbol of the Markov corpus (symbols: {MarkovChain.Alphabet[..VocabSize]}).");
            }

            ids[i] = id;
        }
        return ids;
    }

    // The whole character at text[i] (one char was half of an emoji, printed as '?') with its code point; a control
    // character or a lone surrogate by its code point alone, as printing it would break the line or the text.
    private static string Describe(string text, int i)
    {
        if (Rune.DecodeFromUtf16(text.AsSpan(i), out Rune rune, out _) != OperationStatus.Done)
        {
            return string.Create(CultureInfo.InvariantCulture, $"U+{(int)text[i]:X4}");
        }

        return Rune.IsControl(rune)
            ? string.Create(CultureInfo.InvariantCulture, $"U+{rune.Value:X4}")
            : string.Create(CultureInfo.InvariantCulture, $"'{rune}' (U+{rune.Value:X4})");
    }

    /// <inheritdoc/>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var chars = new char[ids.Length];
        for (int i = 0; i < ids.Length; i++)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(ids[i]);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(ids[i], VocabSize);
            chars[i] = MarkovChain.Alphabet[ids[i]];
        }
        return new string(chars);
    }

    /// <summary>One byte per symbol (the alphabet is ASCII).</summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside [0, V), as <see cref="Decode"/> refuses it.</exception>
    public long ByteCount(ReadOnlySpan<int> ids)
    {
        foreach (int id in ids)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(id, nameof(ids));
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(id, VocabSize, nameof(ids));
        }

        return ids.Length;
    }
}
