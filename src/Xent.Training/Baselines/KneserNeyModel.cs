namespace Xent.Training.Baselines;

/// <summary>
/// A count-based n-gram language model over token ids in [0, V): interpolated Kneser-Ney smoothing with the three
/// discounts of Chen and Goodman's "modified" variant (D1, D2, D3+ per order, estimated from the count-of-counts
/// n1..n4 as Y = n1 / (n1 + 2 n2), Dk = k - (k + 1) Y n(k+1) / nk), interpolated down to the uniform 1 / V, so
/// every token has a positive probability and the probabilities of a context sum to 1.
/// At the highest order the n-gram counts are used, at lower orders the continuation counts (how many distinct
/// tokens precede the n-gram), which is what makes Kneser-Ney better than plain absolute discounting.
/// One fit holds every order up to <see cref="MaxOrder"/>; any order up to it can be scored without refitting.
/// </summary>
public sealed class KneserNeyModel
{
    private const int Raw = 0;
    private const int Continuation = 1;

    private readonly NGramTrie trie;

    // [mode][level][k] for k = 1, 2, 3 (3 means 3 or more); index 0 unused.
    private readonly double[][][] discounts;

    private KneserNeyModel(NGramTrie trie, int vocabSize, int maxOrder)
    {
        this.trie = trie;
        VocabSize = vocabSize;
        MaxOrder = maxOrder;
        discounts = [Discounts(trie, Raw, maxOrder), Discounts(trie, Continuation, maxOrder)];
    }

    /// <summary>V: every token is in [0, V).</summary>
    public int VocabSize { get; }

    /// <summary>The longest n-gram counted: orders 1..MaxOrder can be scored.</summary>
    public int MaxOrder { get; }

    /// <summary>Counts every n-gram of the tokens up to <paramref name="maxOrder"/> tokens long.</summary>
    /// <param name="tokens">The training stream [N], each in [0, V).</param>
    /// <param name="vocabSize">V &gt;= 1.</param>
    /// <param name="maxOrder">The longest n-gram, &gt;= 1 (1: unigram).</param>
    public static KneserNeyModel Fit(ReadOnlySpan<int> tokens, int vocabSize, int maxOrder)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxOrder, 1);
        CheckTokens(tokens, vocabSize, nameof(tokens));
        return new KneserNeyModel(NGramTrie.Build(tokens, vocabSize, maxOrder), vocabSize, maxOrder);
    }

    /// <summary>
    /// P(token | context) under the model of the given order: the last order - 1 tokens of the context are used
    /// (fewer when the context is shorter, as at the start of a stream).
    /// </summary>
    /// <param name="context">Preceding tokens [any length], each in [0, V).</param>
    /// <param name="token">The predicted token in [0, V).</param>
    /// <param name="order">1..MaxOrder.</param>
    public double Probability(ReadOnlySpan<int> context, int token, int order)
    {
        CheckOrder(order);
        CheckTokens(context, VocabSize, nameof(context));
        if ((uint)token >= (uint)VocabSize)
        {
            throw new ArgumentOutOfRangeException(nameof(token), token, $"The token must be in [0, {VocabSize}).");
        }

        return Interpolated(LastTokens(context, order - 1), token);
    }

    /// <summary>The whole next-token distribution after a context (see <see cref="Probability"/>).</summary>
    /// <param name="context">Preceding tokens [any length], each in [0, V).</param>
    /// <param name="order">1..MaxOrder.</param>
    /// <param name="probabilities">Destination [V].</param>
    public void Distribution(ReadOnlySpan<int> context, int order, Span<double> probabilities)
    {
        CheckOrder(order);
        CheckTokens(context, VocabSize, nameof(context));
        if (probabilities.Length != VocabSize)
        {
            throw new ArgumentException($"probabilities must have length V = {VocabSize}, got {probabilities.Length}.", nameof(probabilities));
        }

        var history = LastTokens(context, order - 1);
        for (int w = 0; w < VocabSize; w++)
        {
            probabilities[w] = Interpolated(history, w);
        }
    }

    /// <summary>
    /// -sum of ln P(stream[i] | stream[..i]) over i = 1..N-1: every token but the first, each predicted from the
    /// tokens before it inside the stream (at most order - 1 of them), as <c>Evaluation.StreamLoss</c> does for the
    /// network.
    /// </summary>
    /// <param name="stream">N tokens, each in [0, V).</param>
    /// <param name="order">1..MaxOrder.</param>
    /// <param name="firstPredicted">The first position predicted (the ones before are context only), &gt;= 1.</param>
    /// <returns>Total nats over the N - <paramref name="firstPredicted"/> predicted tokens (0 when none).</returns>
    public double TotalNats(ReadOnlySpan<int> stream, int order, int firstPredicted = 1)
    {
        CheckOrder(order);
        CheckTokens(stream, VocabSize, nameof(stream));
        ArgumentOutOfRangeException.ThrowIfLessThan(firstPredicted, 1);
        double total = 0;
        for (int i = firstPredicted; i < stream.Length; i++)
        {
            total -= Math.Log(Interpolated(LastTokens(stream[..i], order - 1), stream[i]));
        }

        return total;
    }

    private static ReadOnlySpan<int> LastTokens(ReadOnlySpan<int> context, int count) =>
        context.Length > count ? context[^count..] : context;

    /// <summary>
    /// P(w | h) with h the whole history: the top level (the longest context) uses n-gram counts, each shorter one
    /// continuation counts, and each level hands the discounted mass to the next shorter context.
    /// </summary>
    private double Interpolated(ReadOnlySpan<int> history, int w)
    {
        // Bottom-up: p starts as the uniform distribution and each level k = 1..|h|+1 (context h[^(k-1)..]) mixes
        // in its discounted counts. The nodes of the contexts are found from the longest suffix down.
        double p = 1.0 / VocabSize;
        int top = history.Length + 1;
        for (int level = 1; level <= top; level++)
        {
            int node = trie.Find(history[^(level - 1)..]);
            if (node < 0)
            {
                // An unseen context: every longer one is unseen too.
                break;
            }

            int mode = level == top ? Raw : Continuation;
            long total = trie.ChildSum(node, mode);
            if (total == 0)
            {
                // The context only occurs where nothing follows or precedes it: it has no distribution of its own.
                continue;
            }

            var d = discounts[mode][level];
            int child = trie.Child(node, w);
            long c = child < 0 ? 0 : trie.Value(child, mode);
            double discounted = c == 0 ? 0 : c - d[Math.Min(c, 3)];
            double kept = (d[1] * trie.ChildrenWith(node, mode, 1)) + (d[2] * trie.ChildrenWith(node, mode, 2))
                + (d[3] * trie.ChildrenWith(node, mode, 3));
            p = (discounted + (kept * p)) / total;
        }

        return p;
    }

    /// <summary>D1, D2, D3+ of each level (n-gram length) for n-gram counts or continuation counts.</summary>
    private static double[][] Discounts(NGramTrie trie, int mode, int maxOrder)
    {
        var result = new double[maxOrder + 1][];
        for (int level = 1; level <= maxOrder; level++)
        {
            var n = trie.CountOfCounts(level, mode);
            double y = n[1] == 0 ? 0.5 : (double)n[1] / (n[1] + (2 * n[2]));
            var d = new double[4];
            for (int k = 1; k <= 3; k++)
            {
                // Chen and Goodman's estimate, replaced by the single discount Y where it is undefined, hands down
                // nothing or takes a whole count (tiny data, where some count-of-counts are 0).
                double estimate = n[k] == 0 ? double.NaN : k - ((k + 1) * y * n[k + 1] / n[k]);
                d[k] = estimate > 0 && estimate < k ? estimate : y;
            }

            result[level] = d;
        }

        return result;
    }

    private void CheckOrder(int order)
    {
        if (order < 1 || order > MaxOrder)
        {
            throw new ArgumentOutOfRangeException(nameof(order), order, $"The order must be in [1, {MaxOrder}].");
        }
    }

    private static void CheckTokens(ReadOnlySpan<int> tokens, int vocabSize, string name)
    {
        for (int i = 0; i < tokens.Length; i++)
        {
            if ((uint)tokens[i] >= (uint)vocabSize)
            {
                throw new ArgumentOutOfRangeException(name, tokens[i], $"Token at position {i} is outside [0, {vocabSize}).");
            }
        }
    }
}
