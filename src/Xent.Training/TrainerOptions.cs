using Xent.Optim;

namespace Xent.Training;

/// <summary>Hyper-parameters of a <see cref="Trainer"/>.</summary>
public sealed record TrainerOptions
{
    /// <summary>AdamW betas, epsilon and weight decay (its LearningRate is unused: the schedule gives it).</summary>
    public AdamWOptions Optimizer { get; init; } = new();

    /// <summary>Learning rate per step. Default: 1e-3 peak, no warm-up, cosine to 1e-4 over 1000 steps.</summary>
    public CosineSchedule Schedule { get; init; } = new();

    /// <summary>Largest global gradient norm (clip above it); 0 or less disables clipping. Default 1.</summary>
    public float MaxGradientNorm { get; init; } = 1f;

    /// <summary>
    /// Whether weight decay is limited to the weight matrices and embeddings (tensors of rank 2), sparing biases
    /// and LayerNorm gains as GPT-2 and nanoGPT do. False applies it to every tensor (plain PyTorch AdamW).
    /// Default true.
    /// </summary>
    public bool DecayMatricesOnly { get; init; } = true;
}
