namespace Xent;

/// <summary>
/// Options of <see cref="LinearCrossEntropy"/> beyond the loss's own: gradient accumulation, gradient filtering
/// and the upstream gradient. The loss itself is configured by <see cref="CrossEntropy"/>, exactly as for
/// <see cref="Xent.CrossEntropy"/>.
/// </summary>
public sealed record LinearCrossEntropyOptions
{
    /// <summary>Every default: PyTorch's loss defaults, overwrite gradients, no filtering, upstream 1.</summary>
    public static LinearCrossEntropyOptions Default { get; } = new();

    /// <summary>The loss options (reduction, ignore index, smoothing, class weights, z-loss, soft cap, threads).</summary>
    public CrossEntropyOptions CrossEntropy { get; init; } = CrossEntropyOptions.Default;

    /// <summary>
    /// When true the gradients are added to what dHidden, dWeight and dBias already hold (gradient accumulation over
    /// micro-batches); when false (default) they are overwritten.
    /// </summary>
    public bool Accumulate { get; init; }

    /// <summary>
    /// Gradient filter: the backward products of a block of 6 vocabulary rows x one token block (128 tokens) are
    /// skipped when every entry of its logits gradient dL/dz has |dL/dz| below this threshold (as in Cut
    /// Cross-Entropy). Entries are the reduced loss's gradient, so a mean over N rows already carries the 1/N.
    /// 0 (default) filters nothing and gives the exact result. Must be finite and &gt;= 0.
    /// </summary>
    public float FilterThreshold { get; init; }

    /// <summary>Upstream gradient g of a Mean or Sum loss (default 1): gradients are scaled by it.</summary>
    public float Upstream { get; init; } = 1f;

    /// <summary>
    /// Upstream gradients g [N] for <see cref="Reduction.None"/>: the gradients are those of sum_n g[n] r[n].
    /// Empty (default) means every g[n] = 1. Not used by Mean or Sum.
    /// </summary>
    public ReadOnlyMemory<float> RowUpstream { get; init; }
}
