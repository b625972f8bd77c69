namespace Xent.Training.Data;

/// <summary>
/// The merges of <see cref="BpeTokenizer.Learn(string, int)"/>, learned incrementally (<see cref="BpeMerging{T}"/>).
/// Every word's symbols lie in one array; each pair that may still be merged keeps its count (weighted by its word's
/// count) and where it occurs; a heap gives the next pair. A merge visits only its own occurrences and the pairs on
/// either side of them: O(occurrences), not O(text). Rescanning every word for every merge took minutes on a 5 MB
/// text, and rescanning the words holding the pair took 40 s for 768 merges on a 10 MB line without white space (a
/// single word). The choice is the rescan's: the most frequent pair (ties: the smallest), while one occurs twice.
/// Memory: 2 bytes a symbol while the ids fit in 16 bits (4 beyond), and 4 an occurrence. A pair counted less than
/// twice is dropped with its occurrences, as no pair's count ever grows again (a merge only creates pairs holding its
/// new id), and a list of occurrences is compacted once most of it is stale. Symbols of 4 bytes with their lengths
/// in 4 more, growing lists and every pair kept took a peak of 39 bytes per byte of a 10 MB line without white space
/// (the text aside); now 15 (bench/Xent.Benchmarks bpe-memory line 10).
/// </summary>
internal sealed class BpeLearner
{
    // The most merges of 16-bit symbols: ids 0..65533, the two largest values being no id.
    private const int MostNarrowMerges = ushort.MaxValue - 1 - 256;

    private readonly BpeMerging merging;

    /// <summary>Learns on <paramref name="words"/>, each counted <paramref name="weights"/> times, as many merges as asked.</summary>
    /// <param name="words">Each distinct piece's bytes.</param>
    /// <param name="weights">How often each piece occurs.</param>
    internal BpeLearner(IReadOnlyList<byte[]> words, IReadOnlyList<int> weights)
        : this(BpeWords.Of(words, weights), int.MaxValue)
    {
    }

    /// <summary>Learns on <paramref name="words"/>, taking their bytes, up to <paramref name="mostMerges"/> merges in all.</summary>
    /// <param name="words">The distinct pieces and their counts.</param>
    /// <param name="mostMerges">The most merges it will be asked for, which sets how wide its symbols are.</param>
    internal BpeLearner(BpeWords words, int mostMerges) =>
        merging = mostMerges <= MostNarrowMerges
            ? new BpeMerging<ushort>(words, MostNarrowMerges)
            : new BpeMerging<int>(words, int.MaxValue - 256);

    /// <summary>Occurrences read by merges so far: the work done, which tests bound instead of timing it.</summary>
    internal long Visits => merging.Visits;

    /// <summary>Up to <paramref name="maxMerges"/> merges of the words, each counted <paramref name="weights"/> times.</summary>
    /// <param name="words">Each distinct piece's bytes.</param>
    /// <param name="weights">How often each piece occurs.</param>
    /// <param name="maxMerges">The most merges to learn.</param>
    internal static List<(int Left, int Right)> Learn(IReadOnlyList<byte[]> words, IReadOnlyList<int> weights, int maxMerges) =>
        new BpeLearner(BpeWords.Of(words, weights), maxMerges).Learn(maxMerges);

    /// <summary>Up to <paramref name="maxMerges"/> more merges, the first of them id 256 + those learned before.</summary>
    /// <param name="maxMerges">The most merges to learn.</param>
    internal List<(int Left, int Right)> Learn(int maxMerges) => merging.Learn(maxMerges);
}
