namespace Xent.Kernels;

/// <summary>How the gradient of each row is scaled.</summary>
internal enum GradientScaling
{
    /// <summary>The reduced loss: a, b from the options' reduction and one upstream scalar.</summary>
    Reduced,

    /// <summary>One upstream gradient per row (the backward of Reduction.None).</summary>
    PerRow,
}

/// <summary>
/// Everything one call of the kernel reads and writes, as raw addresses: the public overloads pin their spans
/// (or take pointers) and validate every argument before building this. Row offsets are nint, so logits of more
/// than 2^31 elements work; each row (V &lt;= int.MaxValue) is a span.
/// </summary>
internal sealed unsafe class KernelRequest
{
    public required void* Logits { get; init; }

    /// <summary>Logits (and gradient) are Half rather than float.</summary>
    public bool IsHalf { get; init; }

    public required int Rows { get; init; }

    public required int Classes { get; init; }

    /// <summary>Class-index targets [N], or null with <see cref="Probabilities"/>.</summary>
    public int* Targets { get; init; }

    /// <summary>Probability targets [N, V], or null.</summary>
    public float* Probabilities { get; init; }

    /// <summary>Class weights [V], or null for all 1.</summary>
    public float* Weights { get; init; }

    public required CrossEntropyOptions Options { get; init; }

    public required VectorWidth Width { get; init; }

    /// <summary>Per-row losses out [N], or null.</summary>
    public float* Losses { get; init; }

    /// <summary>Per-row log-sum-exp out [N], or null.</summary>
    public float* LogSumExp { get; init; }

    /// <summary>Gradient out [N, V] (float or Half as the logits), or null for no gradient.</summary>
    public void* Gradient { get; init; }

    public GradientScaling Scaling { get; init; }

    /// <summary>The upstream gradient g of the reduced loss.</summary>
    public float Upstream { get; init; } = 1f;

    /// <summary>Per-row upstream gradients [N] with <see cref="GradientScaling.PerRow"/>.</summary>
    public float* RowUpstream { get; init; }

    /// <summary>The caller's dL/dlse [N] (class-index targets), or null.</summary>
    public float* LogSumExpUpstream { get; init; }

    /// <summary>Whether the reduced loss is wanted (fills the per-row terms the reduction needs).</summary>
    public bool Reduce { get; init; }

    /// <summary>Set by a reducing run: the returned loss's cross-entropy and z-loss parts.</summary>
    public LossParts Parts { get; set; }
}
