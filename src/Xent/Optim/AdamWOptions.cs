namespace Xent.Optim;

/// <summary>
/// Hyper-parameters of <see cref="AdamW"/>. The defaults are PyTorch's <c>torch.optim.AdamW</c> defaults.
/// </summary>
public sealed record AdamWOptions
{
    /// <summary>Learning rate used when a step is not given one (a schedule usually gives one). Default 1e-3.</summary>
    public float LearningRate { get; init; } = 1e-3f;

    /// <summary>Decay of the first-moment (mean) estimate, in [0, 1). Default 0.9.</summary>
    public float Beta1 { get; init; } = 0.9f;

    /// <summary>Decay of the second-moment (uncentred variance) estimate, in [0, 1). Default 0.999.</summary>
    public float Beta2 { get; init; } = 0.999f;

    /// <summary>Added to the square root of the bias-corrected second moment (outside the root). Default 1e-8.</summary>
    public float Epsilon { get; init; } = 1e-8f;

    /// <summary>Decoupled weight decay: each step first does p -= lr * WeightDecay * p. Default 0.01.</summary>
    public float WeightDecay { get; init; } = 0.01f;

    /// <summary>
    /// Most threads an update uses; -1 (default) for all cores. Results are bitwise the same for any value.
    /// </summary>
    public int MaxDegreeOfParallelism { get; init; } = -1;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first bad value.</summary>
    public void Validate()
    {
        if (!(LearningRate >= 0) || float.IsInfinity(LearningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "The learning rate must be finite and >= 0.");
        }

        if (!(Beta1 >= 0 && Beta1 < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(Beta1), Beta1, "Beta1 must be in [0, 1).");
        }

        if (!(Beta2 >= 0 && Beta2 < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(Beta2), Beta2, "Beta2 must be in [0, 1).");
        }

        if (!(Epsilon >= 0) || float.IsInfinity(Epsilon))
        {
            throw new ArgumentOutOfRangeException(nameof(Epsilon), Epsilon, "Epsilon must be finite and >= 0.");
        }

        if (!(WeightDecay >= 0) || float.IsInfinity(WeightDecay))
        {
            throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "The weight decay must be finite and >= 0.");
        }

        if (MaxDegreeOfParallelism == 0 || MaxDegreeOfParallelism < -1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxDegreeOfParallelism), MaxDegreeOfParallelism, "Use -1 (all cores) or a positive count.");
        }
    }
}
