using System.Globalization;
using Xent.Training.Data;
using Xent.Training.Model;

namespace Xent.Training.Checkpoints;

/// <summary>
/// The one check of a run's config, whether it comes from the command line (train) or from a checkpoint
/// (train --resume, eval, sample): every field in its range, the model's arrays within .NET's array limit, and
/// the memory the work needs against the memory available, all before anything large is allocated. Failures
/// throw <see cref="TrainingInputException"/> naming the field as the source spells it (a flag, or the file
/// and the JSON field) and what would be right.
/// </summary>
public static class RunConfigValidator
{
    /// <summary>Largest vocabulary: GPT-2's 50 257 with room, far above any tokenizer here.</summary>
    public const int MaxVocabulary = 1 << 20;

    /// <summary>Largest context length T; the attention's B H T^2 array and the memory check bound it further.</summary>
    public const int MaxContext = 1 << 16;

    /// <summary>Most layers.</summary>
    public const int MaxLayers = 1 << 12;

    /// <summary>Widest model.</summary>
    public const int MaxDim = 1 << 15;

    /// <summary>Largest batch.</summary>
    public const int MaxBatch = 1 << 16;

    /// <summary>Most tokens of the built-in corpus (it is generated into an int array).</summary>
    public const long MaxCorpusTokens = 1L << 30;

    /// <summary>How a source names a field: the flag for the command line, the file and JSON path for a checkpoint.</summary>
    /// <param name="field">The JSON path of the field in config.json, e.g. "model.layers".</param>
    public delegate string FieldName(string field);

    /// <summary>Names fields as config.json does, prefixed by the file.</summary>
    /// <param name="configPath">The config.json path (or the model file whose embedded config is used).</param>
    public static FieldName InFile(string configPath) => field => $"{configPath}: \"{field}\"";

    /// <summary>Names fields by the train flags that set them (fields without a flag by their JSON path).</summary>
    public static FieldName Flags { get; } = field => field switch
    {
        "model.layers" => "--layers",
        "model.dim" => "--dim",
        "model.heads" => "--heads",
        "model.context_length" or "training.seq" => "--seq",
        "training.batch" => "--batch",
        "training.total_steps" => "--steps",
        "training.warmup_steps" => "--warmup",
        "training.learning_rate" => "--lr",
        "training.weight_decay" => "--weight-decay",
        "training.beta1" => "--beta1",
        "training.beta2" => "--beta2",
        "training.epsilon" => "--eps",
        "training.grad_clip" => "--grad-clip",
        "seed" => "--seed",
        "tokenizer" => "--tokenizer",
        "data.train_tokens" => "the training split's token count",
        "data.validation_tokens" => "the validation split's token count",
        "data.bpe_dropout" => "--bpe-dropout",
        _ => field,
    };

    /// <summary>Checks every field of <paramref name="config"/>.</summary>
    /// <param name="config">The run's config.</param>
    /// <param name="name">How to name a field in a message.</param>
    public static void CheckRanges(CheckpointConfig config, FieldName name)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(name);
        var m = config.Model ?? throw Bad(name("model"), "is missing", "an object with vocab_size, context_length, layers, heads, dim");
        var t = config.Training ?? throw Bad(name("training"), "is missing", "an object with the optimizer settings");
        var d = config.Data ?? throw Bad(name("data"), "is missing", "an object with source and token counts");

        Between(name("model.vocab_size"), m.VocabSize, 1, MaxVocabulary);
        Between(name("model.context_length"), m.ContextLength, 2, MaxContext);
        Between(name("model.layers"), m.Layers, 1, MaxLayers);
        Between(name("model.dim"), m.Dim, 1, MaxDim);
        Between(name("model.heads"), m.Heads, 1, m.Dim);
        if (m.Dim % m.Heads != 0)
        {
            throw Bad(name("model.heads"), $"is {m.Heads}, which does not divide the width {m.Dim}", $"a divisor of {m.Dim}");
        }

        if (TokenizerNames.Find(config.Tokenizer) is not { } kind)
        {
            throw Bad(name("tokenizer"), $"is '{config.Tokenizer}'", TokenizerNames.Choices);
        }

        bool markov = d.Source == "markov";
        if (markov != (kind == TokenizerKind.Markov))
        {
            throw Bad(name("tokenizer"), $"is '{config.Tokenizer}' for the data source '{d.Source}'",
                markov ? "markov (the built-in corpus has its own symbols)" : $"{TokenizerNames.TextChoices} (markov is the built-in corpus's)");
        }

        if ((kind == TokenizerKind.Bpe) != (config.BpeMerges is not null))
        {
            throw Bad(name("bpe_merges"), config.BpeMerges is null ? "is missing" : $"is given for the {config.Tokenizer} tokenizer",
                "the merges of a bpe tokenizer, and only of one");
        }

        int? vocabulary = kind switch
        {
            TokenizerKind.Bytes => ByteTokenizer.Instance.VocabSize,
            TokenizerKind.Gpt2 => Gpt2Tokenizer.Instance.VocabSize,
            TokenizerKind.Bpe => 256 + config.BpeMerges!.Count,
            _ => null,
        };
        if (vocabulary is { } v && m.VocabSize != v)
        {
            throw Bad(name("model.vocab_size"), $"is {m.VocabSize}", $"{v}, the vocabulary of the {config.Tokenizer} tokenizer");
        }

        if (markov)
        {
            Between(name("model.vocab_size"), m.VocabSize, 2, 1 << 16);
        }

        Between(name("seed"), config.Seed, int.MinValue, int.MaxValue);
        if (string.IsNullOrWhiteSpace(d.Source))
        {
            throw Bad(name("data.source"), "is empty", "\"markov\" or the path of the text file");
        }

        long window = m.ContextLength + 1L;
        Between(name("data.train_tokens"), d.TrainTokens, window, markov ? MaxCorpusTokens : int.MaxValue);
        Between(name("data.validation_tokens"), d.ValidationTokens, window, markov ? MaxCorpusTokens : int.MaxValue);

        if (!(d.BpeDropout >= 0 && d.BpeDropout < 1) || (d.BpeDropout > 0 && config.Tokenizer != "bpe"))
        {
            throw Bad(name("data.bpe_dropout"), string.Create(CultureInfo.InvariantCulture, $"is {d.BpeDropout} for the {config.Tokenizer} tokenizer"),
                "a probability in [0, 1), and 0 unless the tokenizer is bpe");
        }

        Between(name("training.batch"), t.Batch, 1, MaxBatch);
        if (t.Seq != m.ContextLength)
        {
            throw Bad(name("training.seq"), $"is {t.Seq}", $"the model's context length {m.ContextLength}");
        }

        Between(name("training.total_steps"), t.TotalSteps, 1, int.MaxValue);
        Between(name("training.warmup_steps"), t.WarmupSteps, 0, t.TotalSteps);
        Between(name("step"), config.Step, 0, t.TotalSteps);
        // AdamW and its schedule take the rate as a float: 1e39 would be infinity there, 1e-50 a rate of 0.
        if (!(t.LearningRate >= float.Epsilon && t.LearningRate <= float.MaxValue))
        {
            throw Bad(name("training.learning_rate"), string.Create(CultureInfo.InvariantCulture, $"is {t.LearningRate}"), FloatRange);
        }

        Between(name("training.min_learning_rate"), t.MinLearningRate, 0, t.LearningRate);
        Between(name("training.weight_decay"), t.WeightDecay, 0, 1e6);
        // AdamW runs in float, so the float is checked: a beta of 1 - 1e-11 is 1f, and Adam would divide by 1 - beta^t = 0;
        // an epsilon or clip of 1e-50 is 0f (a clip of 0 is none), 1e39 infinity.
        BetaBelowOne(name("training.beta1"), t.Beta1);
        BetaBelowOne(name("training.beta2"), t.Beta2);
        if (!PositiveFloat(t.Epsilon))
        {
            throw Bad(name("training.epsilon"), string.Create(CultureInfo.InvariantCulture, $"is {t.Epsilon}"), FloatRange);
        }

        if (t.GradClip != 0 && !PositiveFloat(t.GradClip))
        {
            throw Bad(name("training.grad_clip"), string.Create(CultureInfo.InvariantCulture, $"is {t.GradClip}"), $"0 (no clipping) or {FloatRange}");
        }

        // Single arrays: each must fit .NET's array limit, whatever the memory.
        GptConfig gpt = ModelCheckpoint.ToGptConfig(m);
        if ((long)m.VocabSize * m.Dim > Array.MaxLength || 4L * m.Dim * m.Dim > Array.MaxLength || (long)m.ContextLength * m.Dim > Array.MaxLength)
        {
            throw Bad($"{name("model.dim")} with {name("model.vocab_size")} and {name("model.context_length")}",
                $"make a weight matrix of more than {Array.MaxLength} elements ({m.VocabSize} x {m.Dim}, {4L * m.Dim} x {m.Dim}, {m.ContextLength} x {m.Dim})",
                "a smaller width");
        }

        long largest = GptMemory.LargestActivationArray(gpt, t.Batch, m.ContextLength);
        if (largest > Array.MaxLength)
        {
            throw Bad($"{name("training.batch")} {t.Batch} with {name("model.context_length")} {m.ContextLength}",
                $"need an activation array of {largest} elements (one head's attention T x T = {m.ContextLength} x {m.ContextLength}, MLP B x T x 4D = {t.Batch} x {m.ContextLength} x {4L * m.Dim}), over the {Array.MaxLength} one array holds",
                "a smaller batch or sequence length");
        }
    }

    /// <summary>Refuses work needing more memory than is available, saying how much it needs and has.</summary>
    /// <param name="needed">Bytes the work needs (see <see cref="GptMemory"/>).</param>
    /// <param name="what">What would need it, e.g. "training this model (--layers 120, --dim 1024, batch 16 x 128)".</param>
    /// <param name="available">Bytes available; default <see cref="GptMemory.AvailableBytes"/>.</param>
    public static void CheckMemory(long needed, string what, long? available = null)
    {
        long have = available ?? GptMemory.AvailableBytes();
        if (needed > have)
        {
            throw new TrainingInputException(
                $"{what} needs about {GptMemory.Format(needed)} of memory, but only {GptMemory.Format(have)} is available; use a smaller model, batch or sequence length.");
        }
    }

    /// <summary>Ranges and the memory of training, for a fresh run (flags) or a resumed one (a checkpoint's config).</summary>
    /// <param name="config">The run's config.</param>
    /// <param name="name">How to name a field.</param>
    /// <param name="resuming">Whether a checkpoint will be loaded.</param>
    /// <param name="available">Bytes available (tests); default the machine's.</param>
    public static void CheckTraining(CheckpointConfig config, FieldName name, bool resuming, long? available = null)
    {
        CheckRanges(config, name);
        GptConfig gpt = ModelCheckpoint.ToGptConfig(config.Model);
        long needed = GptMemory.TrainingBytes(gpt, config.Training.Batch, gpt.ContextLength, resuming);
        CheckMemory(needed, Describe("training", config, GptMemory.Parameters(gpt)), available);
    }

    /// <summary>Ranges and the memory of evaluating or sampling a checkpoint.</summary>
    /// <param name="config">The checkpoint's config.</param>
    /// <param name="name">How to name a field.</param>
    /// <param name="batch">Windows per evaluation batch (1 for sampling).</param>
    /// <param name="available">Bytes available (tests); default the machine's.</param>
    public static void CheckInference(CheckpointConfig config, FieldName name, int batch, long? available = null)
    {
        CheckRanges(config, name);
        GptConfig gpt = ModelCheckpoint.ToGptConfig(config.Model);
        long needed = GptMemory.InferenceBytes(gpt, batch, gpt.ContextLength);
        CheckMemory(needed, Describe("loading", config, GptMemory.Parameters(gpt)), available);
    }

    private static string Describe(string verb, CheckpointConfig c, long parameters) => string.Create(CultureInfo.InvariantCulture,
        $"{char.ToUpperInvariant(verb[0])}{verb[1..]} this model ({parameters:N0} parameters: {c.Model.Layers} layers, width {c.Model.Dim}, vocabulary {c.Model.VocabSize}; batch {c.Training.Batch} x {c.Model.ContextLength} tokens)");

    private static void Between(string field, long value, long min, long max)
    {
        if (value < min || value > max)
        {
            throw Bad(field, $"is {value}", $"between {min} and {max}");
        }
    }

    private static void Between(string field, double value, double min, double max)
    {
        if (!(value >= min && value <= max))
        {
            throw Bad(field, string.Create(CultureInfo.InvariantCulture, $"is {value}"),
                string.Create(CultureInfo.InvariantCulture, $"a number between {min} and {(max == double.MaxValue ? "any finite value" : max.ToString("R", CultureInfo.InvariantCulture))}"));
        }
    }

    private const string FloatRange = "a finite number above 0 that a float holds, from 1.4E-45 to 3.4E+38";

    private static bool PositiveFloat(double value) => (float)value > 0 && float.IsFinite((float)value);

    private static void BetaBelowOne(string field, double value)
    {
        if (!(value >= 0 && (float)value < 1))
        {
            throw Bad(field, string.Create(CultureInfo.InvariantCulture, $"is {value}"),
                string.Create(CultureInfo.InvariantCulture, $"a number from 0 to below 1 that stays below 1 as a float (at most {MathF.BitDecrement(1f)})"));
        }
    }

    private static TrainingInputException Bad(string field, string problem, string right) =>
        new($"{field} {problem}; it must be {right}.");
}
