namespace Xent.Cli.Training;

/// <summary>Draws the next token from logits with a temperature and top-k filtering.</summary>
internal static class TokenSampler
{
    /// <summary>
    /// Picks an id from <paramref name="logits"/> [V]: temperature 0 takes the arg max; otherwise softmax of
    /// logits / temperature over the <paramref name="topK"/> largest (all when 0).
    /// </summary>
    public static int Sample(ReadOnlySpan<float> logits, double temperature, int topK, Random random)
    {
        int v = logits.Length;
        if (temperature <= 0)
        {
            int best = 0;
            for (int i = 1; i < v; i++)
                if (logits[i] > logits[best])
                    best = i;
            return best;
        }
        double cutoff = double.NegativeInfinity;
        if (topK > 0 && topK < v)
        {
            float[] sorted = logits.ToArray();
            Array.Sort(sorted);
            cutoff = sorted[v - topK];
        }
        double max = double.NegativeInfinity;
        for (int i = 0; i < v; i++)
            max = Math.Max(max, logits[i]);
        var weights = new double[v];
        double sum = 0;
        for (int i = 0; i < v; i++)
        {
            if (logits[i] < cutoff)
                continue;
            weights[i] = Math.Exp((logits[i] - max) / temperature);
            sum += weights[i];
        }
        double u = random.NextDouble() * sum;
        int last = 0;
        for (int i = 0; i < v; i++)
        {
            if (weights[i] == 0)
                continue;
            last = i;
            u -= weights[i];
            if (u < 0)
                return i;
        }
        return last;
    }
}
