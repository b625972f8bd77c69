namespace Xent.Kernels;

/// <summary>How logits or a gradient are stored; the kernel computes in float whatever they are.</summary>
internal enum ElementKind
{
    Single,
    Half,
    BFloat16,
}

/// <summary>
/// How one call's logits and gradient are stored. Converts from the bool "Half or not" the float and Half overloads
/// pass, so they need no change.
/// </summary>
internal readonly record struct ElementKinds(ElementKind Logits, ElementKind Gradient)
{
    public static implicit operator ElementKinds(bool half) =>
        half ? new(ElementKind.Half, ElementKind.Half) : new(ElementKind.Single, ElementKind.Single);

    /// <summary>Bytes per logit.</summary>
    public int LogitsSize => Logits == ElementKind.Single ? sizeof(float) : 2;

    /// <summary>Bytes per gradient element.</summary>
    public int GradientSize => Gradient == ElementKind.Single ? sizeof(float) : 2;
}

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
/// than 2^31 elements work; each row (V &lt;= int.MaxValue) is a span. A struct, which the kernel copies: a class was
/// garbage on every call.
/// </summary>
internal readonly unsafe struct KernelRequest
{
    public KernelRequest()
    {
    }

    public required void* Logits { get; init; }

    /// <summary>How the logits are stored.</summary>
    public ElementKind Element { get; init; }

    /// <summary>How the gradient is stored (bfloat16 logits may have a float gradient).</summary>
    public ElementKind GradientElement { get; init; }

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

    /// <summary>Gradient out [N, V] (as <see cref="GradientElement"/> says), or null for no gradient.</summary>
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
}
