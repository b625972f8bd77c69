namespace Xent.Training.Runs;

/// <summary>
/// The training defaults, in one place: <see cref="TrainerOptions"/>, <see cref="TrainingPlan"/> and the
/// <c>xent train</c> command read them. On the built-in corpus they finish in about a minute on 2 cores and end
/// near the entropy floor (measured numbers: docs/training.md).
/// </summary>
public static class TrainingDefaults
{
    /// <summary>Optimizer steps.</summary>
    public const int Steps = 2400;

    /// <summary>Sequences per step (B).</summary>
    public const int Batch = 16;

    /// <summary>Tokens per sequence (T), the model's context length.</summary>
    /// <remarks>128 rather than 64: the first position of a window sees one symbol only, and its excess loss is
    /// averaged over T positions (window floor 1.0081 at T = 128 against 1.0255 at T = 64).</remarks>
    public const int Seq = 128;

    /// <summary>Transformer blocks.</summary>
    public const int Layers = 2;

    /// <summary>Model width (D).</summary>
    public const int Dim = 64;

    /// <summary>Attention heads.</summary>
    public const int Heads = 4;

    /// <summary>Peak learning rate of the cosine schedule.</summary>
    /// <remarks>Tuned on the built-in corpus (docs/training.md): 2e-2 leaves the initial plateau (loss ~3.2,
    /// before the model learns to attend to the previous symbol) within ~200 steps; 3e-2 ended worse, 1e-2 too
    /// slow.</remarks>
    public const double LearningRate = 2e-2;

    /// <summary>The cosine decays to this share of the peak; decaying to 0 gave the lowest final loss (the last
    /// phase, fitting 1 024 next-symbol distributions, is limited by gradient noise).</summary>
    public const double MinLearningRateRatio = 0.0;

    /// <summary>Seed of the model's initialisation and of the batches.</summary>
    public const int Seed = 1;

    /// <summary>Steps between validation measurements (each followed by a checkpoint).</summary>
    public const int EvalEvery = 100;

    /// <summary>AdamW's decoupled weight decay.</summary>
    public const double WeightDecay = 0.0;

    /// <summary>Largest global gradient norm (clipped above it; 0: no clipping).</summary>
    public const double GradClip = 1.0;

    /// <summary>AdamW's beta1: PyTorch's default, as <see cref="Optim.AdamWOptions"/>' (0.9f is its float).</summary>
    public const double Beta1 = 0.9;

    /// <summary>AdamW's beta2: PyTorch's default, as <see cref="Optim.AdamWOptions"/>'.</summary>
    public const double Beta2 = 0.999;

    /// <summary>AdamW's epsilon: PyTorch's default, as <see cref="Optim.AdamWOptions"/>'.</summary>
    public const double Epsilon = 1e-8;

    /// <summary>Validation tokens per measurement: enough that its noise (about 0.01 nats) is small against the gaps reported.</summary>
    public const int ValidationTokens = 16_384;

    /// <summary>Validation windows of <paramref name="seq"/> tokens covering <see cref="ValidationTokens"/>.</summary>
    public static int ValidationWindows(int seq) => Math.Max(1, ValidationTokens / seq);

    /// <summary>Warm-up: 5% of the steps (at least 1 when there are 20 steps or more).</summary>
    public static int Warmup(int steps) => steps / 20;
}
