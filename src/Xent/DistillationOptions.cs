namespace Xent;

/// <summary>
/// Options of <see cref="LinearDistillation"/>: which divergence between the teacher's and the student's softmax, at
/// which temperature, mixed with how much hard-label cross-entropy, reduced how.
/// </summary>
public sealed record DistillationOptions
{
    /// <summary>Every default: generalised JSD with beta 0.5, temperature 1, soft weight 1, no hard term, Mean.</summary>
    public static DistillationOptions Default { get; } = new();

    /// <summary>
    /// Mixing weight beta in [0, 1] of the generalised Jensen-Shannon divergence, as Liger-Kernel's
    /// <c>LigerFusedLinearJSD</c> defines it, with P the teacher's and Q the student's softmax: 0 is the forward KL
    /// KL(P || Q), 1 the reverse KL KL(Q || P), in between beta KL(P || M) + (1 - beta) KL(Q || M) with
    /// M = beta P + (1 - beta) Q (0.5 is the symmetric JSD). Default 0.5.
    /// </summary>
    public float Beta { get; init; } = 0.5f;

    /// <summary>
    /// Temperature T &gt; 0, finite, with 1 / T a finite float (T at least about 2.9e-39): both softmaxes are of
    /// logits / T (the loss is not multiplied by T^2). Default 1.
    /// </summary>
    public float Temperature { get; init; } = 1f;

    /// <summary>Weight of the divergence in each row's loss. Default 1.</summary>
    public float SoftLossWeight { get; init; } = 1f;

    /// <summary>Weight of the hard-label cross-entropy logsumexp(s) - s[y] of the student's logits at temperature 1. Default 0.</summary>
    public float HardLossWeight { get; init; }

    /// <summary>Rows whose target is this are left out of both terms (loss 0, gradient 0) and of Mean's count. Default -100.</summary>
    public int IgnoreIndex { get; init; } = -100;

    /// <summary>Mean (over the kept rows; NaN when there is none, as PyTorch) or Sum; None is for <c>LossPerRow</c> only.</summary>
    public Reduction Reduction { get; init; } = Reduction.Mean;

    /// <summary>Upstream gradient g of the reduced loss (a loss scale): gradients are scaled by it, the loss is not. Default 1.</summary>
    public float Upstream { get; init; } = 1f;

    /// <summary>Most threads; -1 (default) for all cores. The result does not depend on it.</summary>
    public int MaxDegreeOfParallelism { get; init; } = -1;
}
