using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Xent.Training.Data;

/// <summary>The state of a <see cref="BpeLearner"/>, whatever the width of its symbols.</summary>
internal abstract class BpeMerging
{
    /// <summary>Occurrences read by merges so far.</summary>
    internal abstract long Visits { get; }

    /// <summary>Up to <paramref name="maxMerges"/> more merges, the first of them id 256 + those learned before.</summary>
    /// <param name="maxMerges">The most merges to learn.</param>
    internal abstract List<(int Left, int Right)> Learn(int maxMerges);
}

/// <summary>
/// The merges of <see cref="BpeLearner"/>, with symbols of type <typeparamref name="T"/>: ushort (2 bytes a byte of
/// text) while the ids fit, else int. Every word's symbols lie in one array; each pair that may still be merged keeps
/// its count (weighted by its word's count) and where it occurs; a heap gives the next pair.
/// </summary>
/// <typeparam name="T">The symbols' type; its two largest values (all bits set, and one less) are no id.</typeparam>
internal sealed class BpeMerging<T> : BpeMerging
    where T : unmanaged, IBinaryInteger<T>
{
    // Lies before, between and after the words, so a symbol's neighbours are found without bounds checks.
    private static readonly T Separator = T.AllBitsSet;

    // Where a merge's right symbol began, when that symbol was longer than a byte: inside the merged symbol now, its
    // old id there would pass a stale occurrence there for the symbol.
    private static readonly T Absorbed = T.AllBitsSet - T.One;

    // A symbol's first and last byte hold its id (a one-byte symbol's one byte, its byte), and its length in bytes
    // comes from `lengths`: the next symbol is a length away, the previous one the length of the id before.
    private readonly T[] ids;
    private readonly List<int> lengths = [.. Enumerable.Repeat(1, 256)];

    private readonly int[] starts;
    private readonly int[] weights;
    private readonly int mostMerges;
    private readonly Dictionary<long, Pair> pairs = new(PairKeyComparer.Instance);

    // Stale entries (a pair whose count has changed since) are dropped when they reach the top: every change pushes
    // the pair again with its new count, and the heap is rebuilt when stale entries outnumber live ones.
    private readonly PriorityQueue<long, (long Count, long Key)> heap = new(MostFrequentFirst.Instance);

    // The pairs the current merge changed, with their counts before it, so that the heap gets one entry a pair a merge.
    private readonly List<(long Key, long Before)> changed = [];

    // The occurrences the current merge adds (the new pair's slot in `fresh`, high half; the position, low half), so
    // that each new pair's list is made once at its size when the merge is done: lists grown by doubling left twice
    // their size in garbage at every merge.
    private readonly List<long> added = [];
    private readonly List<int[]?> fresh = [];
    private readonly List<int> filled = [];
    private int merges;
    private long visits;

    /// <summary>Learns on <paramref name="words"/>, taking their bytes.</summary>
    /// <param name="words">The words; their starts and weights become the learner's own.</param>
    /// <param name="mostMerges">The most merges it can learn: ids from 256 + this on would not fit in a <typeparamref name="T"/>.</param>
    internal BpeMerging(BpeWords words, int mostMerges)
    {
        starts = words.Starts;
        weights = words.Weights;
        this.mostMerges = mostMerges;
        ids = Symbols(words);

        // Counted first (occurrences in Used), so that only pairs counted twice keep where they occur, each in an
        // array of its size: a 10 MB text has 10 M occurrences.
        for (int w = 0; w < starts.Length; w++)
        {
            for (int i = starts[w]; ids[i] != Separator && ids[i + 1] != Separator; i++)
            {
                ref var pair = ref CollectionsMarshal.GetValueRefOrAddDefault(pairs, Key(ids[i], ids[i + 1]), out _);
                pair.Count += weights[w];
                pair.Used++;
            }
        }

        foreach (var (key, pair) in pairs)
        {
            if (pair.Count < 2)
            {
                pairs.Remove(key);
            }
        }

        foreach (var (key, _) in pairs)
        {
            ref var pair = ref CollectionsMarshal.GetValueRefOrNullRef(pairs, key);
            pair.At = new int[pair.Used];
            pair.Live = pair.Used;
            pair.Used = 0;
        }

        for (int w = 0; w < starts.Length; w++)
        {
            for (int i = starts[w]; ids[i] != Separator && ids[i + 1] != Separator; i++)
            {
                ref var pair = ref CollectionsMarshal.GetValueRefOrNullRef(pairs, Key(ids[i], ids[i + 1]));
                if (!Unsafe.IsNullRef(ref pair))
                {
                    pair.At![pair.Used++] = i;
                }
            }
        }

        RebuildHeap();
    }

    /// <inheritdoc/>
    internal override long Visits => visits;

    /// <inheritdoc/>
    internal override List<(int Left, int Right)> Learn(int maxMerges)
    {
        var learned = new List<(int Left, int Right)>();
        while (learned.Count < maxMerges && Best() is long best)
        {
            if (merges == mostMerges)
            {
                throw new InvalidOperationException($"This learner was made for at most {mostMerges} merges.");
            }

            int left = (int)(best >> 32);
            int right = (int)(best & 0xFFFF_FFFF);
            Merge(best, left, right, 256 + merges++);
            learned.Add((left, right));
        }

        return learned;
    }

    // The words' bytes with a separator before each and one after the last; starts move to the symbols. In a method
    // of its own, so that the bytes can be freed before the pairs' lists are made.
    private static T[] Symbols(BpeWords words)
    {
        byte[] bytes = words.TakeBytes();
        int[] starts = words.Starts;
        var ids = new T[bytes.Length + starts.Length + 1];
        int at = 0;
        ids[at++] = Separator;
        for (int w = 0; w < starts.Length; w++)
        {
            int end = w + 1 < starts.Length ? starts[w + 1] : bytes.Length;
            int from = starts[w];
            starts[w] = at;
            for (int i = from; i < end; i++)
            {
                ids[at++] = T.CreateTruncating(bytes[i]);
            }

            ids[at++] = Separator;
        }

        return ids;
    }

    private static int Id(T symbol) => int.CreateTruncating(symbol);

    private static long Key(T left, T right) => BpeTokenizer.Key(Id(left), Id(right));

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
        Span<int> occurrences = merged.At.AsSpan(0, merged.Used);
        visits += occurrences.Length;

        // Runs of one symbol ("aaaaa") hold overlapping occurrences: merged left to right as a rescan does ("aa aa a",
        // not "a aa aa"), each skipped once its left symbol has gone into the one before. Others never overlap.
        if (left == right)
        {
            occurrences.Sort();
        }

        int leftLength = lengths[left], rightLength = lengths[right];
        lengths.Add(leftLength + rightLength);
        T l = T.CreateTruncating(left), r = T.CreateTruncating(right), joined = T.CreateTruncating(id);
        changed.Clear();
        foreach (int at in occurrences)
        {
            // Lists are not cleared when a merge beside an occurrence changes the pair there: such an entry is
            // stale, and is told by the symbols now there, as a position never holds the same pair twice (a changed
            // pair holds a new id), and a byte inside a symbol holds Absorbed or the id of a symbol that ended there,
            // made after every occurrence listed there.
            if (ids[at] != l)
            {
                continue;
            }

            int after = at + leftLength;
            if (ids[after] != r)
            {
                continue;
            }

            int end = after + rightLength;
            T previous = ids[at - 1];
            T next = ids[end];
            int weight = WeightAt(at);
            if (previous != Separator)
            {
                Uncount(BpeTokenizer.Key(Id(previous), left), pair, weight);
            }

            if (next != Separator)
            {
                Uncount(BpeTokenizer.Key(right, Id(next)), pair, weight);
            }

            ids[at] = joined;
            ids[after] = Absorbed;
            ids[end - 1] = joined;
            if (previous != Separator)
            {
                Count(BpeTokenizer.Key(Id(previous), id), weight, at - lengths[Id(previous)]);
            }

            if (next != Separator)
            {
                Count(BpeTokenizer.Key(id, Id(next)), weight, at);
            }
        }

        foreach (var (key, before) in changed)
        {
            ref var entry = ref CollectionsMarshal.GetValueRefOrNullRef(pairs, key);
            if (entry.Count < 2)
            {
                // Counted once or not at all: never merged, as no pair is counted again after the merge that made it.
                pairs.Remove(key);
                continue;
            }

            if (entry.Count != before)
            {
                heap.Enqueue(key, (entry.Count, key));
            }

            if (entry.At is null)
            {
                entry.At = fresh[entry.Slot] = new int[entry.Used];
            }
            else
            {
                Tidy(ref entry, key);
            }
        }

        // Pairs dropped above have no list: their occurrences are not kept.
        foreach (long occurrence in added)
        {
            int slot = (int)(occurrence >> 32);
            if (fresh[slot] is int[] list)
            {
                list[filled[slot]++] = (int)occurrence;
            }
        }

        if (added.Capacity > (4 * added.Count) + 65536)
        {
            added.Capacity = added.Count;
        }

        added.Clear();
        fresh.Clear();
        filled.Clear();

        if (heap.Count > (2 * pairs.Count) + 4096)
        {
            RebuildHeap();
        }
    }

    // The merged pair's own occurrences all go with it, so overlapping ones ("aaa") leave its count alone. A pair no
    // longer kept was counted less than twice: it is never merged.
    private void Uncount(long key, long merged, int weight)
    {
        if (key == merged)
        {
            return;
        }

        ref var entry = ref CollectionsMarshal.GetValueRefOrNullRef(pairs, key);
        if (!Unsafe.IsNullRef(ref entry))
        {
            Changed(ref entry, key);
            entry.Count -= weight;
            entry.Live--;
        }
    }

    // Only pairs holding the merge's new id are counted: new pairs, whose lists are made once the merge is done.
    private void Count(long key, int weight, int at)
    {
        ref var entry = ref CollectionsMarshal.GetValueRefOrAddDefault(pairs, key, out _);
        Changed(ref entry, key);
        entry.Count += weight;
        entry.Live++;
        if (entry.Used++ == 0)
        {
            entry.Slot = fresh.Count;
            fresh.Add(null);
            filled.Add(0);
        }

        added.Add(((long)entry.Slot << 32) | (uint)at);
    }

    private void Changed(ref Pair entry, long key)
    {
        if (entry.Merge != merges)
        {
            entry.Merge = merges;
            changed.Add((key, entry.Count));
        }
    }

    // Once most of a list is stale it keeps only the occurrences still there, in an array of their number (each stale
    // entry is dropped once, so this costs O(1) an occurrence over the whole learning). No list grows after the merge
    // that made its pair.
    private void Tidy(ref Pair entry, long key)
    {
        int[] at = entry.At!;
        if (2 * entry.Live < entry.Used)
        {
            int left = (int)(key >> 32), length = lengths[left];
            T l = T.CreateTruncating(left), r = T.CreateTruncating((int)(key & 0xFFFF_FFFF));
            int kept = 0;
            for (int i = 0; i < entry.Used; i++)
            {
                int p = at[i];
                if (ids[p] == l && ids[p + length] == r)
                {
                    at[kept++] = p;
                }
            }

            Debug.Assert(kept == entry.Live, "Each occurrence still there is in its pair's list once.");
            entry.Used = kept;
        }

        if (at.Length - entry.Used > 2 + (entry.Used >> 3))
        {
            Array.Resize(ref entry.At, entry.Used);
        }
    }

    // In one go: an empty queue heapifies a range in O(pairs), where one pair at a time took O(pairs log pairs), and
    // with pairs counted once dropped the heap is rebuilt more often.
    private void RebuildHeap()
    {
        heap.Clear();
        heap.EnqueueRange(pairs.Select(p => (p.Key, (p.Value.Count, p.Key))));
    }

    private int WeightAt(int at)
    {
        int w = Array.BinarySearch(starts, at);
        return weights[w >= 0 ? w : ~w - 1];
    }

    private struct Pair
    {
        public long Count;

        // Where the pair occurs (the first byte of its left symbol), in At[..Used]; entries go stale as merges beside
        // them change the pair there, and Live of them are not.
        public int[]? At;
        public int Used;
        public int Live;

        // Its list's index in `fresh` while the merge that made it is under way.
        public int Slot;

        // The last merge that changed the pair (its number), so that it is listed in `changed` once.
        public int Merge;
    }

    private sealed class MostFrequentFirst : IComparer<(long Count, long Key)>
    {
        internal static readonly MostFrequentFirst Instance = new();

        public int Compare((long Count, long Key) x, (long Count, long Key) y) =>
            x.Count != y.Count ? y.Count.CompareTo(x.Count) : x.Key.CompareTo(y.Key);
    }
}
