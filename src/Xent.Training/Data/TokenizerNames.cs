namespace Xent.Training.Data;

/// <summary>
/// The names of <see cref="TokenizerKind"/> in checkpoints, summaries, exports (xent_tokenizer) and on the command
/// line: one table both ways, so a name written by one part of xent is read as the same kind by every other.
/// </summary>
public static class TokenizerNames
{
    // In the order messages list them.
    private static readonly (string Name, TokenizerKind Kind)[] Table =
    [
        ("bytes", TokenizerKind.Bytes),
        ("gpt2", TokenizerKind.Gpt2),
        ("bpe", TokenizerKind.Bpe),
        ("markov", TokenizerKind.Markov),
    ];

    /// <summary>Every name, for a message: "bytes, gpt2, bpe, markov".</summary>
    public static string All { get; } = string.Join(", ", Table.Select(e => e.Name));

    /// <summary>The name of <paramref name="kind"/>: markov, bytes, gpt2 or bpe.</summary>
    public static string Name(TokenizerKind kind)
    {
        foreach (var (name, k) in Table)
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
        foreach (var (n, kind) in Table)
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
        Find(name) ?? throw new TrainingInputException($"Unknown tokenizer '{name}' (expected bytes, bpe or gpt2).");
}
