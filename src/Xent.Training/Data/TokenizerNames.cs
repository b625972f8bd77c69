namespace Xent.Training.Data;

/// <summary>The names of <see cref="TokenizerKind"/> in checkpoints, summaries and on the command line.</summary>
public static class TokenizerNames
{
    /// <summary>The name of <paramref name="kind"/>: markov, bytes, gpt2 or bpe.</summary>
    public static string Name(TokenizerKind kind) => kind.ToString().ToLowerInvariant();

    /// <summary>The kind named <paramref name="name"/>; a <see cref="TrainingInputException"/> for an unknown name.</summary>
    public static TokenizerKind Parse(string name) => name switch
    {
        "bytes" => TokenizerKind.Bytes,
        "gpt2" => TokenizerKind.Gpt2,
        "markov" => TokenizerKind.Markov,
        "bpe" => TokenizerKind.Bpe,
        _ => throw new TrainingInputException($"Unknown tokenizer '{name}' (expected bytes, bpe or gpt2)."),
    };
}
