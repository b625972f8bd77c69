using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace Xent.Training.Data;

/// <summary>
/// A text's distinct pieces (<see cref="BpeTokenizer.Pieces"/>), each once with how often it occurs, laid out as the
/// words a <see cref="BpeLearner"/> merges. A piece is known by where it first occurs in the text, so none is copied
/// but for its UTF-8 bytes: a string and a byte array of each distinct piece held 3 bytes per byte of a text without
/// white space, alive beside the learner's symbols.
/// </summary>
internal static class BpePieces
{
    /// <summary>
    /// A learner of up to <paramref name="maxMerges"/> merges on <paramref name="text"/>[..<paramref name="length"/>],
    /// which must not end inside a surrogate pair.
    /// </summary>
    /// <param name="text">The text.</param>
    /// <param name="length">How many of its chars to learn on.</param>
    /// <param name="maxMerges">The most merges it will learn.</param>
    internal static BpeLearner Learner(string text, int length, int maxMerges) => new(Words(text, length), maxMerges);

    // In a method of its own, so that the dictionary of pieces is gone before the learner is built.
    private static BpeWords Words(string text, int length)
    {
        // The merges do not depend on the pieces' order: counts are sums, and each piece is merged on its own.
        var counts = Counts(text, length);
        long total = 0;
        foreach (var (piece, _) in counts)
        {
            total += Encoding.UTF8.GetByteCount(text.AsSpan(piece.Start, piece.Length));
        }

        BpeWords.CheckSize(total, counts.Count);
        var bytes = new byte[total];
        var starts = new int[counts.Count];
        var weights = new int[counts.Count];
        int at = 0, w = 0;
        foreach (var (piece, count) in counts)
        {
            starts[w] = at;
            weights[w++] = count;
            at += Encoding.UTF8.GetBytes(text.AsSpan(piece.Start, piece.Length), bytes.AsSpan(at));
        }

        return new BpeWords(bytes, starts, weights);
    }

    // Also in a method of its own: the copy PairsAsTheirClass makes of a text with surrogate pairs is gone with it.
    private static Dictionary<Piece, int> Counts(string text, int length)
    {
        var counts = new Dictionary<Piece, int>(new SameChars(text));
        foreach (ValueMatch m in BpeTokenizer.Pieces().EnumerateMatches(BpeTokenizer.PairsAsTheirClass(text).AsSpan(0, length)))
        {
            CollectionsMarshal.GetValueRefOrAddDefault(counts, new Piece(m.Index, m.Length), out _)++;
        }

        return counts;
    }

    private readonly record struct Piece(int Start, int Length);

    private sealed class SameChars(string text) : IEqualityComparer<Piece>
    {
        public bool Equals(Piece x, Piece y) =>
            text.AsSpan(x.Start, x.Length).SequenceEqual(text.AsSpan(y.Start, y.Length));

        // XxHash3 of the chars' bytes: string's own hash of a span (Marvin, randomized) made counting a prose text's
        // pieces a fifth slower than the string dictionary this replaces, whose hash is not randomized either.
        public int GetHashCode(Piece obj) =>
            (int)XxHash3.HashToUInt64(MemoryMarshal.AsBytes(text.AsSpan(obj.Start, obj.Length)));
    }
}
