namespace Xent.Training.Data;

/// <summary>
/// The distinct words a <see cref="BpeLearner"/> learns on: their bytes one after another, where each starts, and how
/// often each occurs. The learner takes the bytes (<see cref="TakeBytes"/>), so that they can be freed as soon as it
/// has written them as its symbols.
/// </summary>
internal sealed class BpeWords
{
    private byte[]? bytes;

    /// <summary>Words whose <paramref name="bytes"/> are laid out one after another.</summary>
    /// <param name="bytes">Every word's bytes, in order, with nothing between them.</param>
    /// <param name="starts">Where each word's first byte is in <paramref name="bytes"/>.</param>
    /// <param name="weights">How often each word occurs.</param>
    internal BpeWords(byte[] bytes, int[] starts, int[] weights)
    {
        CheckSize(bytes.Length, starts.Length);
        this.bytes = bytes;
        Starts = starts;
        Weights = weights;
    }

    /// <summary>Where each word's first byte is in the bytes.</summary>
    internal int[] Starts { get; }

    /// <summary>How often each word occurs.</summary>
    internal int[] Weights { get; }

    /// <summary>Words of the given bytes.</summary>
    /// <param name="words">Each word's bytes.</param>
    /// <param name="weights">How often each word occurs.</param>
    internal static BpeWords Of(IReadOnlyList<byte[]> words, IReadOnlyList<int> weights)
    {
        CheckSize(words.Sum(w => (long)w.Length), words.Count);
        var bytes = new byte[words.Sum(w => w.Length)];
        var starts = new int[words.Count];
        int at = 0;
        for (int w = 0; w < words.Count; w++)
        {
            starts[w] = at;
            words[w].CopyTo(bytes, at);
            at += words[w].Length;
        }

        return new BpeWords(bytes, starts, [.. weights]);
    }

    /// <summary>
    /// Throws when the learner's symbols, the <paramref name="bytes"/> of <paramref name="count"/> words with a
    /// separator before each and one after the last, would not fit in one array.
    /// </summary>
    /// <param name="bytes">The words' bytes in all.</param>
    /// <param name="count">How many words.</param>
    internal static void CheckSize(long bytes, int count)
    {
        long total = bytes + count + 1;
        if (total > Array.MaxLength)
        {
            throw new ArgumentException($"The distinct pieces hold {total} bytes; BPE learns on at most {Array.MaxLength}.", nameof(bytes));
        }
    }

    /// <summary>The bytes, which these words then no longer hold.</summary>
    internal byte[] TakeBytes()
    {
        byte[] taken = bytes ?? throw new InvalidOperationException("A learner has already taken these words' bytes.");
        bytes = null;
        return taken;
    }
}
