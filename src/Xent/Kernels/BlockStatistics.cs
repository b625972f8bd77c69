namespace Xent.Kernels;

/// <summary>
/// Softmax statistics of one block of (soft-capped) logits z, relative to the block's own max. Blocks are small
/// enough to stay in L1 between the max pass and the exp pass, so the logits come from memory once.
/// </summary>
internal struct BlockStatistics
{
    /// <summary>max_c z[c] (the hardware's max: may or may not be NaN when a NaN is present; Sum is NaN then).</summary>
    public float Max;

    /// <summary>
    /// sum_c exp(z[c] - Max), or relative to 0 when Max is -inf (so that a block of -inf adds 0, not NaN). In double: a
    /// sum of 1 + 7.8e-5 (a dominant logit) would keep its 7.8e-5, the loss, to only 8e-4 in float.
    /// </summary>
    public double Sum;

    /// <summary>sum_c w[c] z[c] (label smoothing), when asked for; in double, as the loss takes it from W lse.</summary>
    public double WeightedLogits;

    /// <summary>sum_c w[c] t[c] z[c] (probability targets), when asked for; in double, as the loss is their difference.</summary>
    public double WeightedTargetLogits;

    /// <summary>sum_c w[c] t[c] (probability targets), when asked for; in double, as the loss is their difference.</summary>
    public double WeightedTargets;

    /// <summary>
    /// With <see cref="ShiftInPowersOfTwo"/>, the shift m of the exponentials the single pass stored: 2^(z log2 e - m),
    /// log2 e the float constant. Otherwise stored exponentials are exp(z - Max) (exp(z) where Max is -inf).
    /// </summary>
    public float Shift;

    /// <summary>Whether stored exponentials are relative to <see cref="Shift"/> (in powers of two) rather than to Max.</summary>
    public bool ShiftInPowersOfTwo;
}
