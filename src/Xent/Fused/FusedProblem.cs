namespace Xent.Fused;

/// <summary>
/// One fused linear cross-entropy call, checked and pinned: raw pointers (null = absent or not wanted) and sizes.
/// Shapes: N tokens, D hidden, V classes; h [N, D], W [V, D], bias [V], y [N].
/// </summary>
internal sealed unsafe class FusedProblem
{
    public float* Hidden;
    public float* Weight;

    /// <summary>h in bfloat16 instead of <see cref="Hidden"/> (then null): widened one token block at a time.</summary>
    public BFloat16* HiddenBFloat16;

    /// <summary>W in bfloat16 instead of <see cref="Weight"/> (then null): widened one tile of class rows at a time.</summary>
    public BFloat16* WeightBFloat16;
    public float* Bias;
    public int* Targets;
    public int N;
    public int D;
    public int V;

    public int IgnoreIndex;
    public float LabelSmoothing;
    public float ZLoss;
    public float SoftCap;
    public float* ClassWeights;
    public Reduction Reduction;
    public float Upstream;
    public float* RowUpstream;

    /// <summary>The caller's dL/dlse [N] (added to each kept row's multiplier of p), or null.</summary>
    public float* LogSumExpUpstream;
    public float FilterThreshold;
    public long CacheBytes;
    public bool Accumulate;
    public int MaxDegreeOfParallelism;

    /// <summary>Whether gradients are computed (a second, recomputing sweep per token block).</summary>
    public bool Backward;
    public float* DHidden;
    public float* DWeight;
    public float* DBias;
    public float* RowLosses;
    public float* LogSumExp;

    /// <summary>Destination of each row's softmax entropy H = lse - sum_c p[c] z[c] [N], or null.</summary>
    public float* Entropy;

    /// <summary>The caller's dL/dH [N] (each kept row's logits gradient gains -g_H p (z - sum p z)), or null.</summary>
    public float* EntropyUpstream;

    /// <summary>Set by the run: the reduced cross-entropy part of the returned loss (Reduction as the call's).</summary>
    public double CrossEntropyPart;

    /// <summary>Set by the run: the reduced z-loss part of the returned loss.</summary>
    public double ZLossPart;
}
