using System.Text.Json.Serialization;

namespace Xent.Training.Checkpoints;

/// <summary>
/// The config.json written beside a checkpoint's model.safetensors: everything needed to rebuild the model,
/// its data and its optimizer schedule, and to resume training at <see cref="Step"/>.
/// </summary>
/// <remarks>
/// The fields every config.json has held since the first format are required (<c>required</c> or
/// <see cref="JsonRequiredAttribute"/>): one left out was read as 0 (a beta1 of 0, no gradient clipping), which the
/// range check accepts, and a resume trained with other settings than the run's. Fields added later are optional,
/// read as their documented default where older files leave them out.
/// </remarks>
public sealed record CheckpointConfig
{
    /// <summary>Version of this layout; a reader rejects versions it does not know.</summary>
    [JsonPropertyName("format_version")][JsonRequired] public int FormatVersion { get; init; } = CheckpointStore.FormatVersion;

    /// <summary>The model's hyper-parameters.</summary>
    [JsonPropertyName("model")] public required CheckpointModel Model { get; init; }

    /// <summary>"markov", "bytes", "gpt2" or "bpe".</summary>
    [JsonPropertyName("tokenizer")] public required string Tokenizer { get; init; }

    /// <summary>
    /// The merges of a "bpe" tokenizer learned on the run's text, in order, each "LEFT RIGHT" (two ids; merge i
    /// makes id 256 + i); null for the other tokenizers.
    /// </summary>
    [JsonPropertyName("bpe_merges")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? BpeMerges { get; init; }

    /// <summary>Seed of the model's initialisation and of the batch positions.</summary>
    [JsonPropertyName("seed")][JsonRequired] public long Seed { get; init; }

    /// <summary>Optimizer steps taken so far.</summary>
    [JsonPropertyName("step")][JsonRequired] public long Step { get; init; }

    /// <summary>
    /// The validation loss before the run's first step (step 0), carried from checkpoint to checkpoint so that a
    /// resumed run still reports where the whole run started; null in checkpoints written before it was kept.
    /// </summary>
    [JsonPropertyName("initial_val_loss")] public double? InitialValLoss { get; init; }

    /// <summary>Where the tokens come from.</summary>
    [JsonPropertyName("data")] public required CheckpointData Data { get; init; }

    /// <summary>Optimizer and schedule settings of the run.</summary>
    [JsonPropertyName("training")] public required CheckpointTraining Training { get; init; }
}

/// <summary>GPT hyper-parameters, mirroring the model's config.</summary>
public sealed record CheckpointModel
{
    /// <summary>V.</summary>
    [JsonPropertyName("vocab_size")][JsonRequired] public int VocabSize { get; init; }

    /// <summary>Longest sequence T the position embedding covers.</summary>
    [JsonPropertyName("context_length")][JsonRequired] public int ContextLength { get; init; }

    /// <summary>Number of Transformer blocks.</summary>
    [JsonPropertyName("layers")][JsonRequired] public int Layers { get; init; }

    /// <summary>Attention heads per block.</summary>
    [JsonPropertyName("heads")][JsonRequired] public int Heads { get; init; }

    /// <summary>D, the hidden width.</summary>
    [JsonPropertyName("dim")][JsonRequired] public int Dim { get; init; }

    /// <summary>Whether the unembedding is the token embedding.</summary>
    [JsonPropertyName("tie_embeddings")][JsonRequired] public bool TieEmbeddings { get; init; } = true;

    /// <summary>Dropout probability of training (0, the value read from checkpoints written before it existed: none).</summary>
    [JsonPropertyName("dropout")] public double Dropout { get; init; }
}

/// <summary>The data source of a run.</summary>
public sealed record CheckpointData
{
    /// <summary>"markov" for the built-in corpus, otherwise the text file's full path.</summary>
    [JsonPropertyName("source")] public required string Source { get; init; }

    /// <summary>Seed of the Markov corpus (null for a text file).</summary>
    [JsonPropertyName("corpus_seed")][JsonRequired] public long? CorpusSeed { get; init; }

    /// <summary>Training tokens of the corpus.</summary>
    [JsonPropertyName("train_tokens")][JsonRequired] public long TrainTokens { get; init; }

    /// <summary>Validation tokens of the corpus.</summary>
    [JsonPropertyName("validation_tokens")][JsonRequired] public long ValidationTokens { get; init; }

    /// <summary>
    /// BPE-dropout of the training windows of a "bpe" run (<see cref="Data.TokenDataset.TrainSamples"/>); 0, and
    /// left out of the file, for none (the value read from checkpoints written before it existed).
    /// </summary>
    [JsonPropertyName("bpe_dropout")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public double BpeDropout { get; init; }

    /// <summary>
    /// SHA-256 of the text file's bytes (lower-case hex): a resumed run reads the same text, from whatever path; null
    /// for the built-in corpus and in checkpoints written before it was kept.
    /// </summary>
    [JsonPropertyName("text_sha256")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? TextSha256 { get; init; }

    /// <summary>Whether the text came from a pipe (<see cref="Source"/> cannot give it again: a resume needs it given); false, and left out, otherwise.</summary>
    [JsonPropertyName("piped")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool Piped { get; init; }
}

/// <summary>Optimizer (AdamW) and schedule settings.</summary>
public sealed record CheckpointTraining
{
    /// <summary>B.</summary>
    [JsonPropertyName("batch")][JsonRequired] public int Batch { get; init; }

    /// <summary>T of the training windows.</summary>
    [JsonPropertyName("seq")][JsonRequired] public int Seq { get; init; }

    /// <summary>Total steps the schedule was planned for.</summary>
    [JsonPropertyName("total_steps")][JsonRequired] public long TotalSteps { get; init; }

    /// <summary>Linear warm-up steps of the cosine schedule.</summary>
    [JsonPropertyName("warmup_steps")][JsonRequired] public long WarmupSteps { get; init; }

    /// <summary>Peak learning rate.</summary>
    [JsonPropertyName("learning_rate")][JsonRequired] public double LearningRate { get; init; }

    /// <summary>Learning rate at the end of the cosine decay.</summary>
    [JsonPropertyName("min_learning_rate")][JsonRequired] public double MinLearningRate { get; init; }

    /// <summary>Decoupled weight decay.</summary>
    [JsonPropertyName("weight_decay")][JsonRequired] public double WeightDecay { get; init; }

    /// <summary>Adam's beta1.</summary>
    [JsonPropertyName("beta1")][JsonRequired] public double Beta1 { get; init; }

    /// <summary>Adam's beta2.</summary>
    [JsonPropertyName("beta2")][JsonRequired] public double Beta2 { get; init; }

    /// <summary>Adam's epsilon.</summary>
    [JsonPropertyName("epsilon")][JsonRequired] public double Epsilon { get; init; }

    /// <summary>Global gradient-norm clip (0: none).</summary>
    [JsonPropertyName("grad_clip")][JsonRequired] public double GradClip { get; init; }
}
