using Xent.Optim;
using Xent.Training.Runs;

namespace Xent.Training;

/// <summary>Hyper-parameters of a <see cref="Trainer"/>. The defaults are <see cref="TrainingDefaults"/>'.</summary>
public sealed record TrainerOptions
{
    /// <summary>AdamW betas, epsilon and weight decay (its LearningRate is unused: the schedule gives it).
    /// Default: PyTorch's betas and epsilon, weight decay <see cref="TrainingDefaults.WeightDecay"/>.</summary>
    public AdamWOptions Optimizer { get; init; } = new() { WeightDecay = (float)TrainingDefaults.WeightDecay };

    /// <summary>Learning rate per step. Default: <see cref="ScheduleFor"/> of
    /// <see cref="TrainingDefaults.Steps"/> at <see cref="TrainingDefaults.LearningRate"/>.</summary>
    public CosineSchedule Schedule { get; init; } = ScheduleFor(TrainingDefaults.Steps, TrainingDefaults.LearningRate);

    /// <summary>Largest global gradient norm (clip above it); 0 or less disables clipping.
    /// Default <see cref="TrainingDefaults.GradClip"/>.</summary>
    public float MaxGradientNorm { get; init; } = (float)TrainingDefaults.GradClip;

    /// <summary>
    /// Whether weight decay is limited to the weight matrices and embeddings (tensors of rank 2), sparing biases
    /// and LayerNorm gains as GPT-2 and nanoGPT do. False applies it to every tensor (plain PyTorch AdamW).
    /// Default true.
    /// </summary>
    public bool DecayMatricesOnly { get; init; } = true;

    /// <summary>
    /// Throws <see cref="ArgumentOutOfRangeException"/> naming the first bad setting: the optimizer's
    /// (<see cref="AdamWOptions.Validate"/>), the schedule's (<see cref="CosineSchedule.Validate"/>) or a NaN
    /// <see cref="MaxGradientNorm"/>. A <see cref="Trainer"/> calls it when it is made.
    /// </summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Optimizer);
        ArgumentNullException.ThrowIfNull(Schedule);
        Optimizer.Validate();
        Schedule.Validate();

        // NaN is neither above 0 (clip) nor 0 or less (no clipping): it would have trained unclipped.
        if (float.IsNaN(MaxGradientNorm))
        {
            throw new ArgumentOutOfRangeException(nameof(MaxGradientNorm), MaxGradientNorm, "MaxGradientNorm must be a number (0 or less: no clipping).");
        }
    }

    /// <summary>
    /// The default schedule's shape for a run: warm-up <paramref name="warmupSteps"/> (default
    /// <see cref="TrainingDefaults.Warmup"/>), cosine from <paramref name="learningRate"/> down to
    /// <see cref="TrainingDefaults.MinLearningRateRatio"/> of it at <paramref name="totalSteps"/>.
    /// </summary>
    /// <param name="totalSteps">Steps of the run.</param>
    /// <param name="learningRate">Peak learning rate.</param>
    /// <param name="warmupSteps">Linear warm-up steps; null for 5% of <paramref name="totalSteps"/>.</param>
    public static CosineSchedule ScheduleFor(int totalSteps, double learningRate, int? warmupSteps = null) => new()
    {
        WarmupSteps = Math.Min(warmupSteps ?? TrainingDefaults.Warmup(totalSteps), totalSteps),
        TotalSteps = totalSteps,
        MaxLearningRate = (float)learningRate,
        MinLearningRate = (float)(learningRate * TrainingDefaults.MinLearningRateRatio),
    };
}
