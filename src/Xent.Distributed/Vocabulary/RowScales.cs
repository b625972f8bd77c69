namespace Xent.Distributed.Vocabulary;

/// <summary>
/// The backward of a vocabulary-parallel head runs 128 tokens at a time, but a Mean's scales belong to the whole
/// batch. So every reduction becomes per-row upstream gradients g [N] of sum_n g[n] r[n]: Mean g = upstream / (sum of
/// the kept rows' weights), Sum g = upstream, None g = the caller's per-row upstream. Mean scales z-loss by 1 / (kept rows), not by
/// the weights: that ratio goes into the z-loss coefficient of the options used for the backward.
/// </summary>
internal static class RowScales
{
    // upstream: the reduced loss's upstream gradient (Mean, Sum); rowUpstream [N]: the per-row one (None).
    public static (float[] Upstream, CrossEntropyOptions Options) For(ReadOnlySpan<int> targets, CrossEntropyOptions ce, float upstream, ReadOnlySpan<float> rowUpstream)
    {
        int n = targets.Length;
        var g = new float[n];
        var backward = ce with { Reduction = Reduction.None };
        switch (ce.Reduction)
        {
            case Reduction.None:
                rowUpstream.CopyTo(g);
                break;
            case Reduction.Sum:
                g.AsSpan().Fill(upstream);
                break;
            default:
                var weights = ce.ClassWeights.Span;
                double keptWeight = 0;
                int kept = 0;
                foreach (int y in targets)
                {
                    if (y != ce.IgnoreIndex)
                    {
                        kept++;
                        keptWeight += weights.IsEmpty ? 1.0 : weights[y];
                    }
                }

                g.AsSpan().Fill((float)(upstream / keptWeight));
                if (ce.ZLoss > 0f && kept > 0 && keptWeight > 0)
                {
                    backward = backward with { ZLoss = (float)(ce.ZLoss * (keptWeight / kept)) };
                }

                break;
        }

        return (g, backward);
    }
}
