namespace Xent.Training.Data;

/// <summary>
/// The names of <see cref="TokenizerKind"/> in checkpoints, summaries, exports (xent_tokenizer) and on the command
/// line: one table both ways, so a name written by one part of xent is read as the same kind by every other.
/// </summary>
public static class TokenizerNames
{
    // In the order messages list them; Text: whether a text corpus takes it (markov's ids are the built-in corpus's own
    // symbols, which no text encodes into).
    private static readonly (string Name, TokenizerKind Kind, bool Text)[] Table =
    [
        ("bytes", TokenizerKind.Bytes, true),
        ("bpe", TokenizerKind.Bpe, true),
        ("gpt2", TokenizerKind.Gpt2, true),
        ("markov", TokenizerKind.Markov, false),
    ];

    /// <summary>Every name, for a message: "bytes, bpe, gpt2, markov".</summary>
    public static string All { get; } = string.Join(", ", Table.Select(e => e.Name));

    /// <summary>Every name as the choices of a refusal: "bytes, bpe, gpt2 or markov".</summary>
    public static string Choices { get; } = Or(Table.Select(e => e.Name));

    /// <summary>The names a text corpus takes, as the choices of a refusal: "bytes, bpe or gpt2".</summary>
    public static string TextChoices { get; } = Or(Table.Where(e => e.Text).Select(e => e.Name));

    /// <summary>Whether a text corpus (xent train --text) takes <paramref name="kind"/>: every kind but markov.</summary>
    public static bool IsText(TokenizerKind kind)
    {
        foreach (var (_, k, text) in Table)
        {
            if (k == kind)
            {
                return text;
            }
        }

        throw new ArgumentOutOfRangeException(nameof(kind), kind, "Not a tokenizer kind.");
    }

    /// <summary>The name of <paramref name="kind"/>: one of <see cref="Choices"/>.</summary>
    public static string Name(TokenizerKind kind)
    {
        foreach (var (name, k, _) in Table)
        {
            if (k == kind)
            {
                return name;
            }
        }

        throw new ArgumentOutOfRangeException(nameof(kind), kind, "Not a tokenizer kind.");
    }

    /// <summary>The kind named <paramref name="name"/>, or null where it is none of xent's (the caller words the refusal).</summary>
    public static TokenizerKind? Find(string name)
    {
        foreach (var (n, kind, _) in Table)
        {
            if (n == name)
            {
                return kind;
            }
        }

        return null;
    }

    /// <summary>The kind named <paramref name="name"/>; a <see cref="TrainingInputException"/> for an unknown name.</summary>
    public static TokenizerKind Parse(string name) =>
        Find(name) ?? throw new TrainingInputException($"Unknown tokenizer '{name}' (expected {TextChoices}).");

    // "a, b or c".
    private static string Or(IEnumerable<string> names)
    {
        string[] all = [.. names];
        return all.Length < 2 ? string.Join("", all) : $"{string.Join(", ", all[..^1])} or {all[^1]}";
    }
}
