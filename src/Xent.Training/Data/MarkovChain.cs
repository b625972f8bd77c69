namespace Xent.Training.Data;

/// <summary>
/// A seeded random sparse Markov chain of order 2 over <see cref="SymbolCount"/> symbols: the built-in corpus.
/// Each context (a, b) of the two previous symbols allows only a few next symbols, with random probabilities,
/// so the source has an exactly computable entropy rate (<see cref="EntropyRate"/>) well below ln V: the floor
/// that a model's cross-entropy can approach (cross-entropy = entropy + KL divergence) but never pass.
/// </summary>
public sealed class MarkovChain
{
    /// <summary>The printable character of each symbol (symbol i prints as Alphabet[i]).</summary>
    public const string Alphabet = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ.,";

    // Sparse rows of the transition table, indexed by context a * V + b: next symbols and their probabilities.
    private readonly int[][] next;
    private readonly double[][] prob;

    private MarkovChain(int symbols, int[][] next, double[][] prob)
    {
        SymbolCount = symbols;
        this.next = next;
        this.prob = prob;
        Stationary = ComputeStationary(symbols, next, prob);
        EntropyRate = ComputeEntropyRate(Stationary, prob);
        FirstOrderEntropy = ComputeFirstOrderEntropy(symbols, Stationary);
    }

    /// <summary>Number of symbols V (the vocabulary size of the corpus).</summary>
    public int SymbolCount { get; }

    /// <summary>
    /// Stationary distribution of the pair chain, length V * V, indexed a * V + b: the long-run frequency of
    /// the symbol pair (a, b) at two consecutive positions.
    /// </summary>
    public IReadOnlyList<double> Stationary { get; }

    /// <summary>
    /// Entropy rate in nats per token: sum over contexts of pi(a, b) * H(next | a, b). The lowest mean
    /// cross-entropy any model can reach on a long stream from this source.
    /// </summary>
    public double EntropyRate { get; }

    /// <summary>
    /// H(X[t+1] | X[t]) in nats under the stationary distribution: the best loss at the first position of a
    /// window, where only one symbol of context is visible.
    /// </summary>
    public double FirstOrderEntropy { get; }

    /// <summary>
    /// The best mean loss reachable on windows of <paramref name="seq"/> predictions that start in the
    /// stationary distribution: the first prediction sees one symbol, the others see the full order-2 context.
    /// </summary>
    /// <param name="seq">Window length T (predictions per window), at least 1.</param>
    public double WindowFloor(int seq)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(seq, 1);
        return (FirstOrderEntropy + (seq - 1) * EntropyRate) / seq;
    }

    /// <summary>
    /// Builds a random chain. Every context gets between <paramref name="minSupport"/> and
    /// <paramref name="maxSupport"/> next symbols with Dirichlet(1) probabilities; one of them always follows
    /// a de Bruijn cycle over all pairs, which makes the pair chain irreducible (a single long-run regime).
    /// </summary>
    /// <param name="seed">Seed of the table (the same seed always gives the same chain).</param>
    /// <param name="symbols">V, between 2 and <see cref="Alphabet"/>'s length.</param>
    /// <param name="minSupport">Fewest next symbols per context, at least 1.</param>
    /// <param name="maxSupport">Most next symbols per context, at most V.</param>
    public static MarkovChain Create(long seed, int symbols = 32, int minSupport = 3, int maxSupport = 4)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(symbols, 2);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(symbols, Alphabet.Length);
        ArgumentOutOfRangeException.ThrowIfLessThan(minSupport, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSupport, minSupport);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxSupport, symbols);

        int[] cycleNext = DeBruijnSuccessors(symbols);
        var rng = SplitMix64.For(seed, 0x4d41524b, 0);
        int contexts = symbols * symbols;
        var next = new int[contexts][];
        var prob = new double[contexts][];
        for (int ctx = 0; ctx < contexts; ctx++)
        {
            int k = minSupport + (int)rng.NextInt64(maxSupport - minSupport + 1);
            var support = new List<int>(k) { cycleNext[ctx] };
            while (support.Count < k)
            {
                int c = (int)rng.NextInt64(symbols);
                if (!support.Contains(c))
                {
                    support.Add(c);
                }
            }
            support.Sort();
            var p = new double[k];
            double sum = 0;
            for (int i = 0; i < k; i++)
            {
                // Exponential draws normalised to one are a Dirichlet(1) sample; keep them away from 0 so every
                // listed successor really occurs (and the cycle edge keeps the chain irreducible).
                p[i] = -Math.Log(1.0 - rng.NextDouble()) + 0.05;
                sum += p[i];
            }
            for (int i = 0; i < k; i++)
            {
                p[i] /= sum;
            }

            next[ctx] = support.ToArray();
            prob[ctx] = p;
        }
        return new MarkovChain(symbols, next, prob);
    }

    /// <summary>
    /// Builds a chain from a dense table p[a, b, c] = P(next = c | previous two = a, b); rows must sum to 1.
    /// Meant for hand-made chains with a known entropy rate.
    /// </summary>
    /// <param name="table">Shape [V, V, V]; zero entries are left out of the sparse rows.</param>
    public static MarkovChain FromTable(double[,,] table)
    {
        ArgumentNullException.ThrowIfNull(table);
        int v = table.GetLength(0);
        if (table.GetLength(1) != v || table.GetLength(2) != v)
        {
            throw new ArgumentException("The table must have shape [V, V, V].", nameof(table));
        }

        var next = new int[v * v][];
        var prob = new double[v * v][];
        for (int a = 0; a < v; a++)
        {
            for (int b = 0; b < v; b++)
            {
                var n = new List<int>();
                var p = new List<double>();
                double sum = 0;
                for (int c = 0; c < v; c++)
                {
                    double x = table[a, b, c];
                    if (x < 0 || !double.IsFinite(x))
                    {
                        throw new ArgumentException($"Probability p[{a},{b},{c}] = {x} is not in [0, 1].", nameof(table));
                    }

                    if (x > 0) { n.Add(c); p.Add(x); sum += x; }
                }
                if (Math.Abs(sum - 1) > 1e-9)
                {
                    throw new ArgumentException($"Row p[{a},{b},:] sums to {sum}, not 1.", nameof(table));
                }

                next[a * v + b] = n.ToArray();
                prob[a * v + b] = p.ToArray();
            }
        }

        return new MarkovChain(v, next, prob);
    }

    /// <summary>P(next = c | previous two = a, b).</summary>
    public double Probability(int a, int b, int c)
    {
        int ctx = a * SymbolCount + b;
        int i = Array.IndexOf(next[ctx], c);
        return i < 0 ? 0 : prob[ctx][i];
    }

    /// <summary>
    /// Samples <paramref name="count"/> symbols, starting from a pair drawn from the stationary distribution so
    /// that the whole stream is stationary. The same (seed, stream) always gives the same symbols.
    /// </summary>
    /// <param name="count">Number of symbols N, at least 2.</param>
    /// <param name="seed">Seed of the sample.</param>
    /// <param name="stream">Which independent stream of that seed (e.g. 1 for train, 2 for validation).</param>
    public int[] Generate(int count, long seed, long stream)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 2);
        var rng = SplitMix64.For(seed, stream, 1);
        int v = SymbolCount;
        var tokens = new int[count];
        double u = rng.NextDouble();
        int pair = Stationary.Count - 1;
        for (int s = 0; s < Stationary.Count; s++)
        {
            u -= Stationary[s];
            if (u < 0) { pair = s; break; }
        }
        tokens[0] = pair / v;
        tokens[1] = pair % v;
        for (int t = 2; t < count; t++)
        {
            int ctx = tokens[t - 2] * v + tokens[t - 1];
            int[] n = next[ctx];
            double[] p = prob[ctx];
            double r = rng.NextDouble();
            int pick = n[^1];
            for (int i = 0; i < n.Length; i++)
            {
                r -= p[i];
                if (r < 0) { pick = n[i]; break; }
            }
            tokens[t] = pick;
        }
        return tokens;
    }

    /// <summary>The successor of each pair on a de Bruijn cycle B(V, 2), indexed a * V + b.</summary>
    private static int[] DeBruijnSuccessors(int v)
    {
        // Concatenating the Lyndon words of length 1 and 2 in lexicographic order (a; then a, b for b > a)
        // gives a cyclic sequence of length V^2 in which every pair occurs exactly once.
        var seq = new List<int>(v * v);
        for (int a = 0; a < v; a++)
        {
            seq.Add(a);
            for (int b = a + 1; b < v; b++) { seq.Add(a); seq.Add(b); }
        }
        var successor = new int[v * v];
        int n = seq.Count;
        for (int i = 0; i < n; i++)
        {
            successor[seq[i] * v + seq[(i + 1) % n]] = seq[(i + 2) % n];
        }

        return successor;
    }

    private static double[] ComputeStationary(int v, int[][] next, double[][] prob)
    {
        // Lazy power iteration pi <- (pi + pi P) / 2 has the same fixed point as pi P and also converges when
        // the pair chain is periodic.
        int states = v * v;
        var pi = new double[states];
        var step = new double[states];
        Array.Fill(pi, 1.0 / states);
        for (int iter = 0; iter < 100_000; iter++)
        {
            Array.Clear(step);
            for (int s = 0; s < states; s++)
            {
                double mass = pi[s];
                if (mass == 0)
                {
                    continue;
                }

                int b = s % v;
                int[] n = next[s];
                double[] p = prob[s];
                for (int i = 0; i < n.Length; i++)
                {
                    step[b * v + n[i]] += mass * p[i];
                }
            }
            double change = 0, total = 0;
            for (int s = 0; s < states; s++)
            {
                double x = 0.5 * (pi[s] + step[s]);
                change += Math.Abs(x - pi[s]);
                pi[s] = x;
                total += x;
            }
            for (int s = 0; s < states; s++)
            {
                pi[s] /= total;
            }

            if (change < 1e-13)
            {
                break;
            }
        }
        return pi;
    }

    private static double ComputeEntropyRate(IReadOnlyList<double> pi, double[][] prob)
    {
        double h = 0;
        for (int s = 0; s < pi.Count; s++)
        {
            double hs = 0;
            foreach (double p in prob[s])
            {
                hs -= p * Math.Log(p);
            }

            h += pi[s] * hs;
        }
        return h;
    }

    private static double ComputeFirstOrderEntropy(int v, IReadOnlyList<double> pi)
    {
        // H(X1 | X0) = H(X0, X1) - H(X0), with the marginal of X0 summed out of the pair distribution.
        double hPair = 0, hSingle = 0;
        var single = new double[v];
        for (int s = 0; s < pi.Count; s++)
        {
            if (pi[s] > 0)
            {
                hPair -= pi[s] * Math.Log(pi[s]);
            }

            single[s / v] += pi[s];
        }
        foreach (double m in single)
        {
            if (m > 0)
            {
                hSingle -= m * Math.Log(m);
            }
        }

        return hPair - hSingle;
    }
}
