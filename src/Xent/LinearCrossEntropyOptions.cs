namespace Xent;

/// <summary>
/// Options of <see cref="LinearCrossEntropy"/>'s gradient calls: the loss's own (<see cref="CrossEntropy"/>, exactly
/// as for <see cref="Xent.CrossEntropy"/>), plus gradient accumulation, gradient filtering and the logits cache.
/// A <see cref="CrossEntropyOptions"/> converts implicitly (every other option at its default), so a plain loss
/// configuration can be passed where these are asked for. The upstream gradient is an argument of the calls, as
/// for <see cref="Xent.CrossEntropy"/>, not an option.
/// </summary>
public sealed record LinearCrossEntropyOptions
{
    /// <summary>Every default: PyTorch's loss defaults, overwrite gradients, no filtering.</summary>
    public static LinearCrossEntropyOptions Default { get; } = new();

    /// <summary>The loss options (reduction, ignore index, smoothing, class weights, z-loss, soft cap, threads).</summary>
    public CrossEntropyOptions CrossEntropy { get; init; } = CrossEntropyOptions.Default;

    /// <summary>
    /// When true the gradients are added to what dHidden, dWeight and dBias already hold (gradient accumulation over
    /// micro-batches); when false (default) they are overwritten.
    /// </summary>
    public bool Accumulate { get; init; }

    /// <summary>
    /// Gradient filter (as in Cut Cross-Entropy): entries of the logits gradient dL/dz with |dL/dz| below this
    /// threshold may be left out of the backward products. Blocks of 6 classes x 128 tokens with no entry at or
    /// above it are skipped, blocks with few such entries are applied entry by entry, and a 252 x 128 tile whose
    /// entries (targets aside) are provably all below it is not even recomputed. Every left-out entry is below the
    /// threshold, so an entry of dW moves by at most threshold x sum_t |h[t, k]|, one of dh by at most
    /// threshold x sum_c |W[c, k]| (and one of dBias by threshold x N). Entries are the reduced loss's gradient,
    /// so a mean over N rows already carries the 1/N. The loss is never affected. 0 (default) filters nothing and
    /// gives the exact result. Must be finite and &gt;= 0.
    /// </summary>
    public float FilterThreshold { get; init; }

    /// <summary>
    /// How many bytes of the current 128-token block's logits tiles the forward keeps for the backward (default
    /// 32 MiB). A block's logits take 128 x V x 4 bytes (25.7 MB at V = 50257, 77.8 MB at 151936, 134 MB at
    /// 262144): what does not fit is recomputed, up to 8 N D V flops in all instead of 6 N D V. 0 recomputes
    /// everything. The call's buffers come to this plus about 20 MB (more when D is above about 2,000, at 9 KB per
    /// hidden unit); the result does not depend on it. Must be &gt;= 0.
    /// </summary>
    public long CacheBytes { get; init; } = 32L << 20;

    /// <summary>The loss options with every other option at its default.</summary>
    /// <param name="options">Loss options; null for PyTorch's defaults.</param>
    public static implicit operator LinearCrossEntropyOptions(CrossEntropyOptions? options) => FromCrossEntropyOptions(options);

    /// <summary>The loss options with every other option at its default (the named form of the implicit conversion).</summary>
    /// <param name="options">Loss options; null for PyTorch's defaults.</param>
    /// <returns>Options whose <see cref="CrossEntropy"/> is <paramref name="options"/>.</returns>
    public static LinearCrossEntropyOptions FromCrossEntropyOptions(CrossEntropyOptions? options) =>
        options is null ? Default : new() { CrossEntropy = options };
}
