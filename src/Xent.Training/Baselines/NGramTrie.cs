namespace Xent.Training.Baselines;

/// <summary>
/// Every distinct n-gram (1..maxOrder tokens) of a stream as a node of a trie, with the statistics Kneser-Ney needs:
/// how often it occurs (mode 0), how many distinct tokens precede it (mode 1), and, as a context, the sum of its
/// children's values and how many children have value 1, 2 and 3 or more. Node 0 is the empty n-gram.
/// </summary>
internal sealed class NGramTrie
{
    private readonly Dictionary<long, int> children = [];
    private readonly List<int> counts = [0];
    private readonly List<int> continuations = [0];
    private readonly List<int> parents = [-1];
    private readonly List<byte> levels = [0];
    private readonly int vocabSize;
    private long[][] childSums = [];
    private int[][][] childrenWith = [];
    private long[][][] countOfCounts = [];

    private NGramTrie(int vocabSize) => this.vocabSize = vocabSize;

    /// <summary>Counts the n-grams of 1..maxOrder tokens starting at every position of the tokens [N].</summary>
    public static NGramTrie Build(ReadOnlySpan<int> tokens, int vocabSize, int maxOrder)
    {
        if (maxOrder > byte.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(maxOrder), maxOrder, $"The order must be at most {byte.MaxValue}.");
        }

        var trie = new NGramTrie(vocabSize);

        // From the last start to the first: the n-grams starting at s + 1 (previous) are the suffixes of those
        // starting at s, so when an n-gram x s' is new, the continuation count of s' (its node is at hand) grows.
        var previous = new int[maxOrder];
        var current = new int[maxOrder];
        for (int s = tokens.Length - 1; s >= 0; s--)
        {
            int node = 0, length = Math.Min(maxOrder, tokens.Length - s);
            for (int l = 1; l <= length; l++)
            {
                long key = ((long)node * vocabSize) + tokens[s + l - 1];
                if (!trie.children.TryGetValue(key, out int child))
                {
                    child = trie.AddNode(node, l);
                    trie.children.Add(key, child);
                    trie.continuations[l == 1 ? 0 : previous[l - 2]]++;
                }

                trie.counts[child]++;
                current[l - 1] = child;
                node = child;
            }

            (previous, current) = (current, previous);
        }

        trie.Summarise(maxOrder);
        return trie;
    }

    /// <summary>The node of an n-gram, or -1 if it never occurs.</summary>
    public int Find(ReadOnlySpan<int> ngram)
    {
        int node = 0;
        foreach (int token in ngram)
        {
            node = Child(node, token);
            if (node < 0)
            {
                return -1;
            }
        }

        return node;
    }

    /// <summary>The node of the n-gram extended by one token, or -1.</summary>
    public int Child(int node, int token) => children.TryGetValue(((long)node * vocabSize) + token, out int child) ? child : -1;

    /// <summary>Occurrences (mode 0) or distinct preceding tokens (mode 1) of the node's n-gram.</summary>
    public long Value(int node, int mode) => mode == 0 ? counts[node] : continuations[node];

    /// <summary>Sum of <see cref="Value"/> over the node's children.</summary>
    public long ChildSum(int node, int mode) => childSums[mode][node];

    /// <summary>Children whose value is k (k = 1, 2) or at least 3 (k = 3).</summary>
    public int ChildrenWith(int node, int mode, int k) => childrenWith[mode][k - 1][node];

    /// <summary>n1..n4 (index 1..4): how many n-grams of this length have value 1, 2, 3, 4.</summary>
    public long[] CountOfCounts(int level, int mode) => countOfCounts[mode][level];

    private int AddNode(int parent, int level)
    {
        counts.Add(0);
        continuations.Add(0);
        parents.Add(parent);
        levels.Add((byte)level);
        return counts.Count - 1;
    }

    private void Summarise(int maxOrder)
    {
        int nodes = counts.Count;
        childSums = [new long[nodes], new long[nodes]];
        childrenWith = [[new int[nodes], new int[nodes], new int[nodes]], [new int[nodes], new int[nodes], new int[nodes]]];
        countOfCounts = new long[2][][];
        for (int mode = 0; mode < 2; mode++)
        {
            countOfCounts[mode] = new long[maxOrder + 1][];
            for (int level = 0; level <= maxOrder; level++)
            {
                countOfCounts[mode][level] = new long[5];
            }
        }

        for (int node = 1; node < nodes; node++)
        {
            int parent = parents[node];
            for (int mode = 0; mode < 2; mode++)
            {
                long value = Value(node, mode);
                childSums[mode][parent] += value;
                if (value > 0)
                {
                    childrenWith[mode][(int)Math.Min(value, 3) - 1][parent]++;
                }

                if (value is >= 1 and <= 4)
                {
                    countOfCounts[mode][levels[node]][value]++;
                }
            }
        }
    }
}
