using System.Globalization;
using Xent.Training.Baselines;
using Xent.Training.Checkpoints;
using Xent.Training.Data;
using Xent.Training.Model;

namespace Xent.Training.Runs;

/// <summary>
/// Everything a <see cref="TrainingLoop"/> needs: the model's shape, the data, the schedule and where to write.
/// A resumed run carries the loaded model and checkpoint in <see cref="Resume"/> (its model, data and seed are
/// the checkpoint's).
/// </summary>
public sealed record TrainingPlan
{
    /// <summary>The model's shape (a resumed run: the checkpoint's).</summary>
    public required GptConfig Model { get; init; }

    /// <summary>Training and validation tokens.</summary>
    public required TokenDataset Data { get; init; }

    /// <summary>Seed of the model's initialisation and of the batches.</summary>
    public int Seed { get; init; } = TrainingDefaults.Seed;

    /// <summary>Sequences per step (B).</summary>
    public int Batch { get; init; } = TrainingDefaults.Batch;

    /// <summary>Total optimizer steps (a resumed run continues up to this step).</summary>
    public int TotalSteps { get; init; } = TrainingDefaults.Steps;

    /// <summary>Linear warm-up steps of the cosine schedule.</summary>
    public int WarmupSteps { get; init; } = TrainingDefaults.Warmup(TrainingDefaults.Steps);

    /// <summary>Peak learning rate of the cosine schedule.</summary>
    public double LearningRate { get; init; } = TrainingDefaults.LearningRate;

    /// <summary>AdamW's decoupled weight decay.</summary>
    public double WeightDecay { get; init; } = TrainingDefaults.WeightDecay;

    /// <summary>Largest global gradient norm (clipped above it; 0: no clipping).</summary>
    public double GradClip { get; init; } = TrainingDefaults.GradClip;

    /// <summary>AdamW's beta1, the decay of its first moment.</summary>
    public double Beta1 { get; init; } = TrainingDefaults.Beta1;

    /// <summary>AdamW's beta2, the decay of its second moment.</summary>
    public double Beta2 { get; init; } = TrainingDefaults.Beta2;

    /// <summary>AdamW's epsilon, added to the root of its second moment.</summary>
    public double Epsilon { get; init; } = TrainingDefaults.Epsilon;

    /// <summary>Steps between validation measurements, each followed by a checkpoint.</summary>
    public int EvalEvery { get; init; } = TrainingDefaults.EvalEvery;

    /// <summary>Folder of the checkpoint, metrics.jsonl and summary.json.</summary>
    public required string OutDir { get; init; }

    /// <summary>Worker threads of the model; null for all cores.</summary>
    public int? Threads { get; init; }

    /// <summary>
    /// The weights a fresh run starts from instead of a random initialisation (fine-tuning: a fresh optimizer at step
    /// 0); its config must be <see cref="Model"/>. Null: initialise from <see cref="Seed"/>.
    /// </summary>
    public GptModel? Init { get; init; }

    /// <summary>
    /// What counting achieves on the same validation windows (text data, see <see cref="WithBaseline"/>); null for
    /// the built-in corpus (whose exact floor is known) or when not computed. Written to summary.json.
    /// </summary>
    public NGramBaseline? Baseline { get; init; }

    /// <summary>Evaluations without a new best validation loss after which training stops (0: never).</summary>
    public int EarlyStop { get; init; }

    /// <summary>The wall-clock budget <see cref="TotalSteps"/> was fitted to (<see cref="TimeBudgetPlanner"/>); null for a step count.</summary>
    public TimeSpan? TimeBudget { get; init; }

    /// <summary>The loaded model and checkpoint of a resumed run; null for a fresh one.</summary>
    public (GptModel Model, Checkpoint Checkpoint)? Resume { get; init; }

    /// <summary>Tokens per sequence (T): the model's context length.</summary>
    public int Seq => Model.ContextLength;

    /// <summary>Where the cosine ends.</summary>
    public double MinLearningRate => LearningRate * TrainingDefaults.MinLearningRateRatio;

    /// <summary>The step a run of this plan starts from: the checkpoint's, or 0.</summary>
    public long StartStep => Resume?.Checkpoint.Config.Step ?? 0;

    /// <summary>The model a run of this plan starts from: <see cref="Resume"/>'s, else <see cref="Init"/>, else a new one of <see cref="Model"/> and <see cref="Seed"/>.</summary>
    public GptModel CreateModel() => Resume?.Model ?? Init ?? new GptModel(Model, Seed);

    /// <summary>Continues the run saved in <paramref name="directory"/>, writing into the same folder.</summary>
    /// <param name="directory">A run's folder (model.safetensors and config.json).</param>
    public static TrainingPlan Resumed(string directory)
    {
        var (model, checkpoint) = ModelCheckpoint.Load(directory);
        return Resumed(model, checkpoint, directory);
    }

    /// <summary>
    /// Continues a loaded checkpoint: its model, data (regenerated or read again), seed and hyper-parameters,
    /// up to its total steps, writing into <paramref name="directory"/>. Change any of them with <c>with</c>.
    /// </summary>
    /// <param name="model">The checkpoint's model.</param>
    /// <param name="checkpoint">The checkpoint (config and optimizer state).</param>
    /// <param name="directory">The checkpoint's folder, named in messages; the default output folder.</param>
    /// <param name="text">
    /// The checkpoint's text read from another path (a moved file, a pipe again); null: read from its source. Checked
    /// against the checkpoint's SHA-256 (see <see cref="CheckpointTokenizer.Dataset(CheckpointConfig, TextFile?)"/>).
    /// </param>
    public static TrainingPlan Resumed(GptModel model, Checkpoint checkpoint, string directory, TextFile? text = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(checkpoint);
        CheckpointConfig c = checkpoint.Config;
        ThrowIfNotFinite(checkpoint, directory);
        TokenDataset data = CheckpointTokenizer.Dataset(c, text);
        if (data.Tokenizer.VocabSize != model.Config.VocabSize)
        {
            throw new TrainingInputException(
                $"The checkpoint in '{directory}' has V = {model.Config.VocabSize} but its data has V = {data.Tokenizer.VocabSize}.");
        }
        return new TrainingPlan
        {
            Model = model.Config,
            Data = data,
            Seed = (int)c.Seed,
            Batch = c.Training.Batch,
            TotalSteps = (int)c.Training.TotalSteps,
            WarmupSteps = (int)c.Training.WarmupSteps,
            LearningRate = c.Training.LearningRate,
            WeightDecay = c.Training.WeightDecay,
            Beta1 = c.Training.Beta1,
            Beta2 = c.Training.Beta2,
            Epsilon = c.Training.Epsilon,
            GradClip = c.Training.GradClip,
            OutDir = directory,
            Resume = (model, checkpoint),
        };
    }

    // xent train never saves a NaN or an infinity (a run whose loss turns non-finite stops at its last good checkpoint):
    // from one in its weights or AdamW moments a run would stop at its first step, blaming --lr. The sum is finite
    // wherever every value is, bar an overflow, which the element scan then clears.
    private static void ThrowIfNotFinite(Checkpoint checkpoint, string directory)
    {
        foreach (SafeTensor t in checkpoint.Weights.Values.Concat(checkpoint.M.Values).Concat(checkpoint.V.Values))
        {
            if (!float.IsFinite(System.Numerics.Tensors.TensorPrimitives.Sum(t.Data)) && Array.FindIndex(t.Data, x => !float.IsFinite(x)) is int at and >= 0)
            {
                throw new TrainingInputException(
                    $"Checkpoint file '{Path.Combine(directory, CheckpointStore.ModelFile)}' is damaged: tensor '{t.Name}' holds {t.Data[at].ToString(CultureInfo.InvariantCulture)} at element {at}, and a run cannot continue from it; xent train saves finite values only.");
            }
        }
    }

    /// <summary>
    /// The settings of the resumed checkpoint that this plan changes, each as (setting, the checkpoint's value, this
    /// plan's): a resumed run may be given other total steps (its schedule then ends there), a warm-up, batch, peak
    /// learning rate, weight decay, AdamW betas or epsilon, or gradient clip of its own. Empty for a fresh plan or one
    /// that changes none.
    /// </summary>
    public IReadOnlyList<(string Setting, double Saved, double Now)> ResumeChanges()
    {
        if (Resume is not { } resume)
        {
            return [];
        }

        var saved = resume.Checkpoint.Config.Training;
        var changes = new List<(string Setting, double Saved, double Now)>();
        Add("total steps", saved.TotalSteps, TotalSteps);
        Add("warm-up steps", saved.WarmupSteps, WarmupSteps);
        Add("batch", saved.Batch, Batch);
        Add("peak learning rate", saved.LearningRate, LearningRate);
        // These run as floats and are saved as the float's decimal: a repeat of a value given before is no change.
        AddFloat("weight decay", saved.WeightDecay, WeightDecay);
        AddFloat("beta1", saved.Beta1, Beta1);
        AddFloat("beta2", saved.Beta2, Beta2);
        AddFloat("epsilon", saved.Epsilon, Epsilon);
        AddFloat("gradient clip", saved.GradClip, GradClip);
        return changes;

        void AddFloat(string setting, double was, double now)
        {
            if ((float)was != (float)now)
            {
                changes.Add((setting, was, now));
            }
        }

        void Add(string setting, double was, double now)
        {
            if (was != now)
            {
                changes.Add((setting, was, now));
            }
        }
    }

    /// <summary>
    /// Whether the warm-up lasts the whole run, so that the learning rate rises to its peak and never decays (a
    /// warm-up as long as the steps, or a resumed run whose fewer total steps cut the cosine short); a run that
    /// ends at its peak learning rate ends unannealed.
    /// </summary>
    public bool WarmupOutlastsRun => WarmupSteps > 0 && WarmupSteps >= TotalSteps - 1;

    /// <summary>
    /// This plan with <see cref="Baseline"/> computed for text data: a Kneser-Ney n-gram model of the training
    /// split scored on the validation windows the network is measured on. The built-in corpus is returned as is.
    /// </summary>
    public TrainingPlan WithBaseline() => Data.Chain is not null || Baseline is not null
        ? this
        : this with
        {
            Baseline = Data.Tokenizer is BpeTokenizer bpe
                ? NGramBaseline.FitOnBytes(bpe, Data.Train, Data.Validation, Seq, TrainingDefaults.ValidationWindows(Seq))
                : NGramBaseline.Fit(Data.Train, Data.Validation, Model.VocabSize, Seq, TrainingDefaults.ValidationWindows(Seq)),
        };

    /// <summary>
    /// Bits per byte of a validation loss (nats per token) on this plan's validation windows: for bytes it is the
    /// loss / ln 2, for GPT-2 tokens it counts the UTF-8 bytes the predicted tokens stand for.
    /// </summary>
    /// <param name="natsPerToken">A validation loss.</param>
    public double ValidationBitsPerByte(double natsPerToken)
    {
        int windows = Math.Min(TrainingDefaults.ValidationWindows(Seq), (Data.Validation.Length - 1) / Seq);
        int tokens = windows * Seq;
        return Evaluation.BitsPerByte(natsPerToken, tokens, Data.Tokenizer.ByteCount(Data.Validation.AsSpan(1, tokens)));
    }

    /// <summary>The trainer's hyper-parameters for this plan.</summary>
    public TrainerOptions ToTrainerOptions() => new()
    {
        Optimizer = new Optim.AdamWOptions
        {
            WeightDecay = (float)WeightDecay,
            Beta1 = (float)Beta1,
            Beta2 = (float)Beta2,
            Epsilon = (float)Epsilon,
            MaxDegreeOfParallelism = Threads ?? -1,
        },
        Schedule = TrainerOptions.ScheduleFor(TotalSteps, LearningRate, WarmupSteps),
        MaxGradientNorm = (float)GradClip,
    };

    /// <summary>The config.json of a checkpoint at <paramref name="step"/>, with the hyper-parameters actually used.</summary>
    /// <param name="step">Optimizer steps done.</param>
    /// <param name="options">The options the trainer ran with (its AdamW betas, epsilon, weight decay and clip).</param>
    public CheckpointConfig ToCheckpointConfig(long step, TrainerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new()
        {
            Model = ModelCheckpoint.ToCheckpoint(Model),
            Tokenizer = TokenizerNames.Name(Data.Tokenizer.Kind),
            BpeMerges = (Data.Tokenizer as BpeTokenizer)?.MergeNames(),
            Seed = Seed,
            Step = step,
            Data = new CheckpointData
            {
                Source = Data.Source,
                CorpusSeed = Data.Chain is null ? null : TokenDataset.DefaultCorpusSeed,
                TrainTokens = Data.Train.Length,
                ValidationTokens = Data.Validation.Length,
                BpeDropout = Data.BpeDropout,
                TextSha256 = Data.Text?.Sha256,
                Piped = Data.Text?.Piped ?? false,
            },
            Training = new CheckpointTraining
            {
                Batch = Batch,
                Seq = Seq,
                TotalSteps = TotalSteps,
                WarmupSteps = WarmupSteps,
                LearningRate = LearningRate,
                MinLearningRate = MinLearningRate,
                WeightDecay = Decimal(options.Optimizer.WeightDecay),
                Beta1 = Decimal(options.Optimizer.Beta1),
                Beta2 = Decimal(options.Optimizer.Beta2),
                Epsilon = Decimal(options.Optimizer.Epsilon),
                GradClip = Decimal(options.MaxGradientNorm),
            },
        };
    }

    /// <summary>
    /// The config of a run of this plan at <paramref name="step"/> with its settings as given, before AdamW rounds them
    /// to float: what <see cref="RunConfigValidator"/> checks, so that a refusal reports the value given (a weight decay
    /// of 1e39, not the infinity its float is; a beta of 0.99999999999, not the 1 its float is).
    /// </summary>
    /// <param name="step">Optimizer steps done.</param>
    public CheckpointConfig ToCheckpointConfig(long step)
    {
        CheckpointConfig used = ToCheckpointConfig(step, ToTrainerOptions());
        return used with
        {
            Training = used.Training with { WeightDecay = WeightDecay, Beta1 = Beta1, Beta2 = Beta2, Epsilon = Epsilon, GradClip = GradClip },
        };
    }

    // The float's shortest decimal form (0.9f is written 0.9, not 0.8999999761581421): config.json is read by people.
    private static double Decimal(float x) => double.Parse(x.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
}
