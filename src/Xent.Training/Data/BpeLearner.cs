namespace Xent.Training.Data;

/// <summary>
/// The merges of <see cref="BpeTokenizer.Learn"/>, learned incrementally: the count of every adjacent pair (weighted
/// by its word's count) and the words holding each pair are kept, each merge rewrites only the words holding its
/// pair, and a heap gives the next pair. Rescanning every word for every merge took minutes on a 5 MB text. The
/// choice is the rescan's: the most frequent pair (ties: the smallest), while one occurs twice.
/// </summary>
internal sealed class BpeLearner
{
    private readonly int[][] words;
    private readonly int[] lengths;
    private readonly int[] weights;
    private readonly Dictionary<long, long> counts = new(PairKeyComparer.Instance);

    // May also name words that no longer hold the pair (a later merge took it): nothing changes in those.
    private readonly Dictionary<long, List<int>> wordsWith = new(PairKeyComparer.Instance);

    // Stale entries (a pair whose count has changed since) are dropped when they reach the top: every change pushes
    // the pair again with its new count.
    private readonly PriorityQueue<long, (long Count, long Key)> heap = new(MostFrequentFirst.Instance);
    private readonly Dictionary<long, long> changes = new(PairKeyComparer.Instance);

    private BpeLearner(IReadOnlyList<int[]> words, IReadOnlyList<int> weights)
    {
        this.words = [.. words];
        this.weights = [.. weights];
        lengths = [.. words.Select(w => w.Length)];
        for (int w = 0; w < this.words.Length; w++)
        {
            int[] ids = this.words[w];
            for (int i = 0; i + 1 < ids.Length; i++)
            {
                long key = BpeTokenizer.Key(ids[i], ids[i + 1]);
                counts[key] = counts.GetValueOrDefault(key) + this.weights[w];
                Index(key, w);
            }
        }

        foreach (var (key, count) in counts)
        {
            heap.Enqueue(key, (count, key));
        }
    }

    /// <summary>Up to <paramref name="maxMerges"/> merges of the words, each counted <paramref name="weights"/> times.</summary>
    /// <param name="words">Each distinct piece's bytes as ids; rewritten in place.</param>
    /// <param name="weights">How often each piece occurs.</param>
    /// <param name="maxMerges">The most merges to learn.</param>
    internal static List<(int Left, int Right)> Learn(IReadOnlyList<int[]> words, IReadOnlyList<int> weights, int maxMerges)
    {
        var learner = new BpeLearner(words, weights);
        var learned = new List<(int Left, int Right)>();
        while (learned.Count < maxMerges && learner.Best() is long best)
        {
            int left = (int)(best >> 32);
            int right = (int)(best & 0xFFFF_FFFF);
            learner.Merge(best, left, right, 256 + learned.Count);
            learned.Add((left, right));
        }

        return learned;
    }

    private long? Best()
    {
        while (heap.TryPeek(out long key, out var entry))
        {
            if (counts.GetValueOrDefault(key) == entry.Count)
            {
                return entry.Count > 1 ? key : null;
            }

            heap.Dequeue();
        }

        return null;
    }

    private void Merge(long pair, int left, int right, int id)
    {
        changes.Clear();
        foreach (int w in wordsWith[pair])
        {
            Span<int> ids = words[w].AsSpan(0, lengths[w]);
            // Only pairs touching a merged (left, right) change: those out, the merged word's pairs touching id in.
            // Merges go left to right without overlap as MergePair does, so "aaaa" comes out as a rescan counts it;
            // scanning, not recounting, keeps a long piece (a whole line of text) cheap.
            int weight = weights[w];
            int lastMergeEnd = -1;
            for (int i = 0; i + 1 < ids.Length; i++)
            {
                if (ids[i] != left || ids[i + 1] != right)
                {
                    continue;
                }

                if (i > 0 && lastMergeEnd != i - 1)
                {
                    Change(ids[i - 1], ids[i], -weight);
                }

                Change(ids[i], ids[i + 1], -weight);
                if (i + 2 < ids.Length)
                {
                    Change(ids[i + 1], ids[i + 2], -weight);
                }

                lastMergeEnd = ++i;
            }

            lengths[w] = MergePair(ids, left, right, id);
            ids = ids[..lengths[w]];
            for (int i = 0; i + 1 < ids.Length; i++)
            {
                if (ids[i] == id || ids[i + 1] == id)
                {
                    Change(ids[i], ids[i + 1], weight);
                    Index(BpeTokenizer.Key(ids[i], ids[i + 1]), w);
                }
            }
        }

        foreach (var (key, change) in changes)
        {
            if (change == 0)
            {
                continue;
            }

            long count = counts.GetValueOrDefault(key) + change;
            if (count == 0)
            {
                counts.Remove(key);
                wordsWith.Remove(key);
            }
            else
            {
                counts[key] = count;
                heap.Enqueue(key, (count, key));
            }
        }
    }

    private void Change(int left, int right, long change)
    {
        long key = BpeTokenizer.Key(left, right);
        changes[key] = changes.GetValueOrDefault(key) + change;
    }

    // Words are indexed in order, each pair's new words one after another, so the last one tells a repeat.
    private void Index(long key, int w)
    {
        if (!wordsWith.TryGetValue(key, out var list))
        {
            wordsWith[key] = list = [];
        }

        if (list.Count == 0 || list[^1] != w)
        {
            list.Add(w);
        }
    }

    // Replaces each (left, right), left to right without overlap, by id in place; returns the new length.
    private static int MergePair(Span<int> ids, int left, int right, int id)
    {
        int n = 0;
        for (int i = 0; i < ids.Length; i++)
        {
            if (i + 1 < ids.Length && ids[i] == left && ids[i + 1] == right)
            {
                ids[n++] = id;
                i++;
            }
            else
            {
                ids[n++] = ids[i];
            }
        }

        return n;
    }

    private sealed class MostFrequentFirst : IComparer<(long Count, long Key)>
    {
        internal static readonly MostFrequentFirst Instance = new();

        public int Compare((long Count, long Key) x, (long Count, long Key) y) =>
            x.Count != y.Count ? y.Count.CompareTo(x.Count) : x.Key.CompareTo(y.Key);
    }
}
