namespace Xent.Fused;

/// <summary>
/// One fused linear cross-entropy call, checked and pinned: raw pointers (null = absent or not wanted) and sizes.
/// Shapes: N tokens, D hidden, V classes; h [N, D], W [V, D], bias [V], y [N]. A struct, which the kernel copies: a
/// class was garbage on every call.
/// </summary>
internal readonly unsafe struct FusedProblem
{
    public FusedProblem()
    {
    }

    public float* Hidden { get; init; }

    public float* Weight { get; init; }

    /// <summary>h in bfloat16 instead of <see cref="Hidden"/> (then null): widened one token block at a time.</summary>
    public BFloat16* HiddenBFloat16 { get; init; }

    /// <summary>W in bfloat16 instead of <see cref="Weight"/> (then null): widened one tile of class rows at a time.</summary>
    public BFloat16* WeightBFloat16 { get; init; }

    public float* Bias { get; init; }

    public int* Targets { get; init; }

    public int N { get; init; }

    public int D { get; init; }

    public int V { get; init; }

    public int IgnoreIndex { get; init; }

    public float LabelSmoothing { get; init; }

    public float ZLoss { get; init; }

    public float SoftCap { get; init; }

    public float* ClassWeights { get; init; }

    public Reduction Reduction { get; init; }

    public float Upstream { get; init; }

    public float* RowUpstream { get; init; }

    /// <summary>The caller's dL/dlse [N] (added to each kept row's multiplier of p), or null.</summary>
    public float* LogSumExpUpstream { get; init; }

    public float FilterThreshold { get; init; }

    public long CacheBytes { get; init; }

    public bool Accumulate { get; init; }

    public int MaxDegreeOfParallelism { get; init; }

    /// <summary>Whether gradients are computed (a second, recomputing sweep per token block).</summary>
    public bool Backward { get; init; }

    public float* DHidden { get; init; }

    public float* DWeight { get; init; }

    public float* DBias { get; init; }

    public float* RowLosses { get; init; }

    public float* LogSumExp { get; init; }

    /// <summary>Destination of each row's softmax entropy H = lse - sum_c p[c] z[c] [N], or null.</summary>
    public float* Entropy { get; init; }

    /// <summary>The caller's dL/dH [N] (each kept row's logits gradient gains -g_H p (z - sum p z)), or null.</summary>
    public float* EntropyUpstream { get; init; }
}
