namespace Xent.Training.Data;

/// <summary>How text maps to token ids.</summary>
public enum TokenizerKind
{
    /// <summary>The built-in Markov corpus: one token per symbol, printed with <see cref="MarkovChain.Alphabet"/>.</summary>
    Markov,

    /// <summary>UTF-8 bytes, V = 256.</summary>
    Bytes,

    /// <summary>The GPT-2 byte-pair encoding (tiktoken "gpt2"), V = 50257.</summary>
    Gpt2,

    /// <summary>A byte-pair encoding learned on the training split of the text (<see cref="BpeTokenizer"/>).</summary>
    Bpe,
}
