using Xent.Training.Data;

namespace Xent.Cli.Commands;

/// <summary>Text given to a checkpoint of xent train (eval's file, sample's --prompt), read the same way by both.</summary>
internal static class CheckpointText
{
    /// <summary>
    /// The ids of <paramref name="text"/>. For the Markov corpus white space is dropped first: its symbols are
    /// printed and pasted wrapped over lines or spaced, and no symbol is white space.
    /// </summary>
    public static int[] Encode(ITokenizer tokenizer, string text) =>
        tokenizer.Encode(tokenizer.Kind == TokenizerKind.Markov ? string.Concat(text.Where(c => !char.IsWhiteSpace(c))) : text);
}
