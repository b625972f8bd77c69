namespace Xent.Training.Data;

/// <summary>
/// Applies a <see cref="BpeTokenizer"/>'s merges to one piece at a time. The piece's symbols are a list linked
/// over the offset of their first byte, and a min tree over those offsets holds the rank of the pair each symbol
/// starts (<see cref="int.MaxValue"/> where there is none), so the lowest-ranked pair, the next pair right of an
/// offset ranked below a bound, and a merge each cost O(log n). Rescanning the piece for every merge cost O(n) each,
/// O(n^2) a piece: a 20,000-byte run without white space (base64, DNA, minified code) took seconds. One merger is
/// reused for the pieces of one call, on one thread.
/// </summary>
internal sealed class BpeMerger(Dictionary<long, int> rank)
{
    private const int None = int.MaxValue;

    private int[] ids = [];
    private int[] next = [];
    private int[] prev = [];
    private int[] tree = [];
    private int n;
    private int size;

    /// <summary>Tree nodes read or written so far: the work done, which tests bound instead of timing it.</summary>
    public long Visits { get; private set; }

    /// <summary>
    /// The deterministic encoding: the lowest-ranked pair, leftmost first, is merged until none is left. Merging
    /// every (left, right) of a rank left to right before the next rank, as the merges were learned, gives the same
    /// ids: a merge only creates pairs holding its new id, which rank after it.
    /// </summary>
    public int[] Encode(ReadOnlySpan<byte> bytes)
    {
        Reset(bytes);
        while (tree[1] != None)
        {
            int r = tree[1];
            Merge(FirstBelow(0, r + 1), r);
        }

        return Ids();
    }

    /// <summary>
    /// BPE-dropout: at each step the mergeable pairs are visited left to right, and each ranked below the best
    /// kept so far draws once, kept with probability 1 - <paramref name="dropout"/>; the last kept (the lowest
    /// ranked, leftmost among equals) is merged, and the piece ends at a step that keeps none. Pairs ranked at or
    /// above the best kept draw nothing, so only they are skipped, and the draws are those of a scan of every pair.
    /// </summary>
    public int[] Encode(ReadOnlySpan<byte> bytes, double dropout, ref SplitMix64 rng)
    {
        Reset(bytes);
        while (true)
        {
            int best = None, at = -1;
            for (int i = FirstBelow(0, best); i >= 0; i = FirstBelow(i + 1, best))
            {
                if (rng.NextDouble() >= dropout)
                {
                    best = tree[size + i];
                    at = i;
                }
            }

            if (at < 0)
            {
                return Ids();
            }

            Merge(at, best);
        }
    }

    private void Reset(ReadOnlySpan<byte> bytes)
    {
        n = bytes.Length;
        size = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(n, 1));
        if (ids.Length < n)
        {
            ids = new int[n];
            next = new int[n];
            prev = new int[n];
        }

        if (tree.Length < 2 * size)
        {
            tree = new int[2 * size];
        }

        for (int i = 0; i < n; i++)
        {
            ids[i] = bytes[i];
            next[i] = i + 1;
            prev[i] = i - 1;
        }

        for (int i = 0; i < size; i++)
        {
            tree[size + i] = i + 1 < n ? PairRank(bytes[i], bytes[i + 1]) : None;
        }

        for (int i = size - 1; i >= 1; i--)
        {
            tree[i] = Math.Min(tree[2 * i], tree[2 * i + 1]);
        }

        Visits += 2 * size;
    }

    // The symbol at `at` and the next become merge r; the pairs that changed are the merged symbol's and its left
    // neighbour's.
    private void Merge(int at, int r)
    {
        int right = next[at];
        int after = right < n ? next[right] : n;
        ids[at] = 256 + r;
        next[at] = after;
        if (after < n)
        {
            prev[after] = at;
        }

        Set(right, None);
        Set(at, after < n ? PairRank(ids[at], ids[after]) : None);
        if (prev[at] >= 0)
        {
            Set(prev[at], PairRank(ids[prev[at]], ids[at]));
        }
    }

    // The leftmost offset >= from whose pair ranks below bound, or -1: up while the subtrees right of `from` hold
    // nothing below it, then down to the leftmost leaf that does.
    private int FirstBelow(int from, int bound)
    {
        if (from >= size)
        {
            return -1;
        }

        int node = size + from;
        while (tree[node] >= bound)
        {
            Visits++;
            while ((node & 1) == 1)
            {
                node >>= 1;
            }

            if (node == 0)
            {
                return -1;
            }

            node++;
        }

        while (node < size)
        {
            Visits++;
            node = tree[2 * node] < bound ? 2 * node : (2 * node) + 1;
        }

        return node - size;
    }

    private void Set(int offset, int value)
    {
        int node = size + offset;
        tree[node] = value;
        for (node >>= 1; node >= 1; node >>= 1)
        {
            Visits++;
            int min = Math.Min(tree[2 * node], tree[(2 * node) + 1]);
            if (tree[node] == min)
            {
                break;
            }

            tree[node] = min;
        }
    }

    private int PairRank(int left, int right) => rank.TryGetValue(BpeTokenizer.Key(left, right), out int r) ? r : None;

    private int[] Ids()
    {
        var result = new List<int>();
        for (int i = 0; i < n; i = next[i])
        {
            result.Add(ids[i]);
        }

        return [.. result];
    }
}
