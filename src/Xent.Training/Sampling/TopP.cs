namespace Xent.Training.Sampling;

/// <summary>
/// Nucleus (top-p) filtering as Hugging Face's TopPLogitsWarper does it: a token goes when the probability of it
/// and of every less likely token, summed from the least likely up, is at most 1 - p; the most likely token stays.
/// </summary>
internal static class TopP
{
    /// <summary>
    /// Zeroes the weights of the tokens outside the nucleus and returns the sum of those kept. Of tokens with equal
    /// weights the lower id counts as the more likely (as the arg max takes the first), so it is the one kept when
    /// the nucleus ends inside a group of ties; Hugging Face keeps as many of them, which ones depending on torch's
    /// sort.
    /// </summary>
    /// <param name="weights">Unnormalised probabilities [V], zero for tokens already filtered out.</param>
    /// <param name="sum">Their sum.</param>
    /// <param name="topP">The nucleus' probability, in (0, 1).</param>
    /// <param name="keys">Scratch of at least [V] weights, or null for arrays of this call's own.</param>
    /// <param name="ids">Scratch of at least [V] ids, given with <paramref name="keys"/>.</param>
    /// <returns>The sum of the weights left.</returns>
    public static double Keep(Span<double> weights, double sum, double topP, double[]? keys = null, int[]? ids = null)
    {
        int n = 0;
        foreach (double w in weights)
        {
            n += w > 0 ? 1 : 0;
        }

        // Sorting all of GPT-2's 50257 tokens costs about a model step's worth; most go without it. A token of weight
        // w sums at most n w / sum from the least likely up, so at most (1 - p) / 2 for w under the bound: it goes
        // whatever the rounding, as does every less likely one, and the most likely (over sum / n) never does.
        double drop = 1 - topP;
        double certain = drop / 2 * sum / n;
        double cumulative = 0;
        int candidates = 0;
        for (int i = 0; i < weights.Length; i++)
        {
            if (weights[i] > certain)
            {
                candidates++;
            }
            else if (weights[i] > 0)
            {
                cumulative += weights[i] / sum;
                weights[i] = 0;
            }
        }

        // A generation draws many tokens: two arrays a draw were most of its garbage.
        keys ??= new double[candidates];
        ids ??= new int[candidates];
        candidates = 0;
        for (int i = 0; i < weights.Length; i++)
        {
            if (weights[i] > 0)
            {
                keys[candidates] = weights[i];
                ids[candidates++] = i;
            }
        }

        Array.Sort(keys, ids, 0, candidates);
        OrderTiesByDescendingId(keys, ids, candidates);

        // The ascending sum of probabilities, not of weights against (1 - p) * sum, is Hugging Face's rounding.
        for (int j = 0; j < candidates - 1; j++)
        {
            cumulative += keys[j] / sum;
            if (cumulative > drop)
            {
                break;
            }

            weights[ids[j]] = 0;
        }

        double kept = 0;
        foreach (double w in weights)
        {
            kept += w;
        }

        return kept;
    }

    // Array.Sort is not stable: in the ascending order the higher id of equal weights comes first (is dropped first).
    private static void OrderTiesByDescendingId(double[] keys, int[] ids, int count)
    {
        for (int start = 0; start < count;)
        {
            int end = start + 1;
            while (end < count && keys[end] == keys[start])
            {
                end++;
            }

            if (end - start > 1)
            {
                // The ids of a group are distinct, so ascending then reversed is descending, without a comparer's garbage.
                Array.Sort(ids, start, end - start);
                Array.Reverse(ids, start, end - start);
            }

            start = end;
        }
    }
}
