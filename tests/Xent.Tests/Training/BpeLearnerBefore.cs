using System.Runtime.InteropServices;
using System.Text;
using Xent.Training.Data;

namespace Xent.Tests.Training;

/// <summary>
/// The incremental learner as it was before its memory was cut (commit 98c226a), kept verbatim but for its name and
/// the piece counting of <see cref="BpeTokenizer.Learn(string, int)"/> then: the reference that the merges of texts far too long
/// for a rescan of every word are compared with. It held about 34 bytes per byte of a line without white space.
/// </summary>
internal sealed class BpeLearnerBefore
{
    // Lies before, between and after the words, so a symbol's neighbours are found without bounds checks.
    private const int Separator = -1;

    // Every byte of a merged symbol but its first: only a symbol's first byte holds its id.
    private const int Absorbed = -2;

    private readonly int[] ids;

    // At a symbol's first byte its length in bytes, at the last byte of a longer one minus its length: the next and
    // the previous symbol are each one step away, in one array rather than two links.
    private readonly int[] span;

    private readonly int[] starts;
    private readonly int[] weights;
    private readonly Dictionary<long, Pair> pairs = new(PairKeyComparer.Instance);

    // Stale entries (a pair whose count has changed since) are dropped when they reach the top: every change pushes
    // the pair again with its new count, and the heap is rebuilt when stale entries outnumber live ones.
    private readonly PriorityQueue<long, (long Count, long Key)> heap = new(MostFrequentFirst.Instance);

    // The pairs the current merge changed, so that the heap gets one entry a pair a merge.
    private readonly List<long> changed = [];
    private int merges;

    /// <summary>Learns on <paramref name="words"/>, each counted <paramref name="weights"/> times.</summary>
    /// <param name="words">Each distinct piece's bytes.</param>
    /// <param name="weights">How often each piece occurs.</param>
    internal BpeLearnerBefore(IReadOnlyList<byte[]> words, IReadOnlyList<int> weights)
    {
        long total = 1 + words.Sum(w => w.Length + 1L);
        if (total > Array.MaxLength)
        {
            throw new ArgumentException($"The distinct pieces hold {total} bytes; BPE learns on at most {Array.MaxLength}.", nameof(words));
        }

        ids = new int[total];
        span = new int[total];
        starts = new int[words.Count];
        this.weights = [.. weights];
        int at = 0;
        ids[at++] = Separator;
        for (int w = 0; w < words.Count; w++)
        {
            starts[w] = at;
            foreach (byte b in words[w])
            {
                ids[at] = b;
                span[at++] = 1;
            }

            ids[at++] = Separator;
        }

        // Counted first, so that each pair's list is allocated once at its size: a 10 MB text has 10 M occurrences.
        for (int i = 0; i + 1 < ids.Length; i++)
        {
            if (ids[i] >= 0 && ids[i + 1] >= 0)
            {
                CollectionsMarshal.GetValueRefOrAddDefault(pairs, BpeTokenizer.Key(ids[i], ids[i + 1]), out _).Before++;
            }
        }

        for (int w = 0; w < words.Count; w++)
        {
            for (int i = starts[w]; i + 1 < starts[w] + words[w].Length; i++)
            {
                ref var pair = ref CollectionsMarshal.GetValueRefOrNullRef(pairs, BpeTokenizer.Key(ids[i], ids[i + 1]));
                pair.At ??= new List<int>((int)pair.Before);
                pair.At.Add(i);
                pair.Count += this.weights[w];
            }
        }

        RebuildHeap();
    }

    /// <summary>Occurrences read by merges so far: the work done, which tests bound instead of timing it.</summary>
    internal long Visits { get; private set; }

    /// <summary>Up to <paramref name="maxMerges"/> merges of the words, each counted <paramref name="weights"/> times.</summary>
    /// <param name="words">Each distinct piece's bytes.</param>
    /// <param name="weights">How often each piece occurs.</param>
    /// <param name="maxMerges">The most merges to learn.</param>
    internal static List<(int Left, int Right)> Learn(IReadOnlyList<byte[]> words, IReadOnlyList<int> weights, int maxMerges) =>
        new BpeLearnerBefore(words, weights).Learn(maxMerges);

    /// <summary>The merges <see cref="BpeTokenizer.Learn(string, int)"/> learned on <paramref name="text"/> before.</summary>
    internal static List<(int Left, int Right)> Learn(string text, int vocabSize)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var lookup = counts.GetAlternateLookup<ReadOnlySpan<char>>();
        foreach (var m in BpeTokenizer.Pieces().EnumerateMatches(BpeTokenizer.PairsAsTheirClass(text)))
        {
            CollectionsMarshal.GetValueRefOrAddDefault(lookup, text.AsSpan(m.Index, m.Length), out _)++;
        }

        var words = new List<byte[]>(counts.Count);
        var weights = new List<int>(counts.Count);
        foreach (var (piece, count) in counts)
        {
            words.Add(Encoding.UTF8.GetBytes(piece));
            weights.Add(count);
        }

        return Learn(words, weights, vocabSize - 256);
    }

    /// <summary>Up to <paramref name="maxMerges"/> more merges, the first of them id 256 + those learned before.</summary>
    /// <param name="maxMerges">The most merges to learn.</param>
    internal List<(int Left, int Right)> Learn(int maxMerges)
    {
        var learned = new List<(int Left, int Right)>();
        while (learned.Count < maxMerges && Best() is long best)
        {
            int left = (int)(best >> 32);
            int right = (int)(best & 0xFFFF_FFFF);
            Merge(best, left, right, 256 + merges++);
            learned.Add((left, right));
        }

        return learned;
    }

    private long? Best()
    {
        while (heap.TryPeek(out long key, out var entry))
        {
            if (pairs.TryGetValue(key, out var pair) && pair.Count == entry.Count)
            {
                return entry.Count > 1 ? key : null;
            }

            heap.Dequeue();
        }

        return null;
    }

    private void Merge(long pair, int left, int right, int id)
    {
        // The merged pair is gone once its occurrences are: taken out at once.
        pairs.Remove(pair, out var merged);
        List<int> occurrences = merged.At!;
        Visits += occurrences.Count;

        // Runs of one symbol ("aaaaa") hold overlapping occurrences: merged left to right as a rescan does ("aa aa a",
        // not "a aa aa"), each skipped once its left symbol has gone into the one before. Others never overlap.
        if (left == right)
        {
            occurrences.Sort();
        }

        changed.Clear();
        foreach (int at in occurrences)
        {
            // Lists are not cleared when a merge beside an occurrence changes the pair there: such an entry is
            // stale, and is told by the symbols now there, as a position never holds the same pair twice (a changed
            // pair holds a new id).
            int after = at + span[at];
            if (ids[at] != left || ids[after] != right)
            {
                continue;
            }

            int before = ids[at - 1] == Separator ? Separator : ids[at - 1] >= 0 ? at - 1 : at + span[at - 1];
            int beyond = ids[after + span[after]] == Separator ? Separator : after + span[after];
            int weight = WeightAt(at);
            if (before != Separator)
            {
                Uncount(BpeTokenizer.Key(ids[before], left), pair, weight);
            }

            if (beyond != Separator)
            {
                Uncount(BpeTokenizer.Key(right, ids[beyond]), pair, weight);
            }

            int length = span[at] + span[after];
            ids[at] = id;
            ids[after] = Absorbed;
            span[at] = length;
            span[at + length - 1] = -length;
            if (before != Separator)
            {
                Count(BpeTokenizer.Key(ids[before], id), weight, before);
            }

            if (beyond != Separator)
            {
                Count(BpeTokenizer.Key(id, ids[beyond]), weight, at);
            }
        }

        foreach (long key in changed)
        {
            ref var entry = ref CollectionsMarshal.GetValueRefOrNullRef(pairs, key);
            if (entry.Count == 0)
            {
                pairs.Remove(key);
            }
            else if (entry.Count != entry.Before)
            {
                heap.Enqueue(key, (entry.Count, key));
            }
        }

        if (heap.Count > (2 * pairs.Count) + 4096)
        {
            RebuildHeap();
        }
    }

    // The merged pair's own occurrences all go with it, so overlapping ones ("aaa") leave its count alone.
    private void Uncount(long key, long merged, int weight)
    {
        if (key != merged)
        {
            Changed(key).Count -= weight;
        }
    }

    private void Count(long key, int weight, int at)
    {
        ref var entry = ref Changed(key);
        entry.Count += weight;
        (entry.At ??= []).Add(at);
    }

    private ref Pair Changed(long key)
    {
        ref var entry = ref CollectionsMarshal.GetValueRefOrAddDefault(pairs, key, out _);
        if (entry.Merge != merges)
        {
            entry.Merge = merges;
            entry.Before = entry.Count;
            changed.Add(key);
        }

        return ref entry;
    }

    private void RebuildHeap()
    {
        heap.Clear();
        foreach (var (key, pair) in pairs)
        {
            heap.Enqueue(key, (pair.Count, key));
        }
    }

    private int WeightAt(int at)
    {
        int w = Array.BinarySearch(starts, at);
        return weights[w >= 0 ? w : ~w - 1];
    }

    private struct Pair
    {
        public long Count;

        // Where the pair occurs (the first byte of its left symbol); entries go stale as merges beside them change
        // the pair there, and stay until the pair is merged or gone.
        public List<int>? At;

        // The count before the current merge, where Merge is that merge's number; in the constructor, the pair's
        // occurrences, to size its list.
        public long Before;
        public int Merge;
    }

    private sealed class MostFrequentFirst : IComparer<(long Count, long Key)>
    {
        internal static readonly MostFrequentFirst Instance = new();

        public int Compare((long Count, long Key) x, (long Count, long Key) y) =>
            x.Count != y.Count ? y.Count.CompareTo(x.Count) : x.Key.CompareTo(y.Key);
    }
}
