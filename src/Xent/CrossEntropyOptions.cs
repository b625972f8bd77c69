namespace Xent;

/// <summary>
/// Options of the cross-entropy loss. Defaults are PyTorch's <c>torch.nn.functional.cross_entropy</c> defaults;
/// the exact meaning of each is given in <c>docs/spec/cross-entropy.md</c>.
/// </summary>
public sealed record CrossEntropyOptions
{
    /// <summary>The options with every default: mean reduction, ignore index -100, no smoothing, no weights.</summary>
    public static CrossEntropyOptions Default { get; } = new();

    /// <summary>How per-row losses are reduced. Default <see cref="Reduction.Mean"/>.</summary>
    public Reduction Reduction { get; init; } = Reduction.Mean;

    /// <summary>
    /// Target value that marks a row as ignored: it contributes nothing to the loss, the mean's denominator or the
    /// gradient. Any int, also one in [0, V). Default -100.
    /// </summary>
    public int IgnoreIndex { get; init; } = -100;

    /// <summary>Label smoothing e in [0, 1]: the target becomes (1 - e) one-hot + e / V uniform. Default 0.</summary>
    public float LabelSmoothing { get; init; }

    /// <summary>Class weights w [V]; empty means every weight is 1. Default empty.</summary>
    public ReadOnlyMemory<float> ClassWeights { get; init; }

    /// <summary>
    /// Z-loss coefficient l &gt;= 0: adds l * lse^2 per row (PaLM), which keeps the log-partition near 0.
    /// Its mean divides by the kept row count, not the weights. Default 0 (off).
    /// </summary>
    public float ZLoss { get; init; }

    /// <summary>Logit soft cap s &gt;= 0: logits become s * tanh(x / s) before the softmax (Gemma 2). 0 = off.</summary>
    public float SoftCap { get; init; }

    /// <summary>
    /// Most threads a call may use; -1 (default) uses every core. Results are bitwise the same for any value,
    /// so this only trades speed for cores left to other work.
    /// </summary>
    public int MaxDegreeOfParallelism { get; init; } = -1;
}
