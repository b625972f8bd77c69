namespace Xent.Kernels;

/// <summary>
/// The rows that count (docs/spec/cross-entropy.md: target != IgnoreIndex; every row for probability targets):
/// their number and their summed target weight, and what the spec derives from them, the reduction of the
/// per-row losses and the gradient's per-row scales a and b.
/// </summary>
/// <param name="Count">Kept rows.</param>
/// <param name="Weight">sum over kept rows of w[y] (the row count for probability targets).</param>
internal readonly record struct KeptRows(int Count, double Weight)
{
    /// <summary>The kept rows of class-index targets [N]; weights [C], or empty for all 1.</summary>
    public static KeptRows Of(ReadOnlySpan<int> targets, int ignoreIndex, ReadOnlySpan<float> weights)
    {
        if (weights.IsEmpty)
        {
            // Each kept row adds 1.0, which is exact in double up to 2^53 rows: the weight is the count, bit for bit. Added
            // row by row it was a chain of dependent additions, about 100 us before the first parallel region at 262144
            // rows, long enough for the pool's worker to fall asleep.
            int kept = targets.Length - targets.Count(ignoreIndex);
            return new KeptRows(kept, kept);
        }

        int count = 0;
        double weight = 0;
        foreach (int y in targets)
        {
            if (y != ignoreIndex)
            {
                count++;
                weight += weights.IsEmpty ? 1.0 : weights[y];
            }
        }

        return new KeptRows(count, weight);
    }

    /// <summary>Every row kept, each with weight 1 (probability targets: Mean divides by N).</summary>
    public static KeptRows All(int rows) => new(rows, rows);

    /// <summary>
    /// The reduced loss from the sums over kept rows of <see cref="RowLoss.Main"/> and <see cref="RowLoss.ZTerm"/>:
    /// Sum (and None, summed) adds them; Mean divides the first by the kept weight and the z-loss terms by the kept
    /// count, and is NaN with no kept row (PyTorch's 0 / 0).
    /// </summary>
    public double Reduce(Reduction reduction, double main, double zTerms, bool zLoss) =>
        ReduceCrossEntropy(reduction, main) + (zLoss ? ReduceZLoss(reduction, zTerms) : 0.0);

    /// <summary>The cross-entropy part of <see cref="Reduce"/>: NaN under Mean where the kept weight is 0, as in PyTorch.</summary>
    public double ReduceCrossEntropy(Reduction reduction, double main) =>
        reduction != Reduction.Mean ? main : Count == 0 ? double.NaN : main / Weight;

    /// <summary>
    /// The z-loss part of <see cref="Reduce"/>: under Mean over the kept count, so finite where the kept rows' class
    /// weights sum to 0 (only the cross-entropy part is 0 / 0 there).
    /// </summary>
    public double ReduceZLoss(Reduction reduction, double zTerms) =>
        reduction != Reduction.Mean ? zTerms : Count == 0 ? double.NaN : zTerms / Count;

    /// <summary>
    /// The spec's per-row gradient scales: a for the cross-entropy terms, b for the z-loss term. Mean: g over the
    /// kept weight and over the kept count; Sum: g; None: the row's own upstream gradient, passed as
    /// <paramref name="upstream"/>.
    /// </summary>
    public (double A, double B) Scales(Reduction reduction, double upstream) =>
        reduction == Reduction.Mean ? (upstream / Weight, upstream / Count) : (upstream, upstream);
}
