using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using Xent.Cli.Terminal;
using Xent.Training.Data;
using Xent.Training.Runs;

namespace Xent.Cli.Commands;

/// <summary>Options of <c>xent train</c>. Model and data options are null when not given, so that a resumed run can tell them apart from defaults.</summary>
internal sealed class TrainSettings : CommandSettings
{
    [CommandOption("--text <FILE>")]
    [Description("Train on this UTF-8 text file instead of the built-in Markov corpus (last 10% of tokens for validation).")]
    public string? Text { get; init; }

    [CommandOption("--tokenizer <KIND>")]
    [Description("Tokenizer for --text: bytes (V = 256; default below 100 KB), bpe (learned on the training split, see --vocab; default from 100 KB) or gpt2 (V = 50257).")]
    public string? Tokenizer { get; init; }

    [CommandOption("--vocab <V>")]
    [Description("Vocabulary size of the byte-pair encoding learned on the training split (256 bytes plus merges); implies --tokenizer bpe for --text. Default 512, 2048 for texts of 500 KB or more. Not with --init: the checkpoint's vocab_size.")]
    [TypeConverter(typeof(DecimalConverter<int>))]
    public int? Vocab { get; init; }

    [CommandOption("--steps <N>")]
    [Description("Total optimizer steps (a resumed run continues up to this step). Default 2400 (built-in corpus); --text: fitted to --time.")]
    [TypeConverter(typeof(DecimalConverter<int>))]
    public int? Steps { get; init; }

    [CommandOption("--batch <B>")]
    [Description("Sequences per step. Default 16.")]
    [TypeConverter(typeof(DecimalConverter<int>))]
    public int? Batch { get; init; }

    [CommandOption("--seq <T>")]
    [Description("Tokens per sequence (the model's context length). Default 128.")]
    [TypeConverter(typeof(DecimalConverter<int>))]
    public int? Seq { get; init; }

    [CommandOption("--layers <L>")]
    [Description("Transformer blocks. Default 2.")]
    [TypeConverter(typeof(DecimalConverter<int>))]
    public int? Layers { get; init; }

    [CommandOption("--dim <D>")]
    [Description("Model width. Default 64 (built-in corpus), 128 (--text).")]
    [TypeConverter(typeof(DecimalConverter<int>))]
    public int? Dim { get; init; }

    [CommandOption("--heads <H>")]
    [Description("Attention heads (must divide --dim). Default 4.")]
    [TypeConverter(typeof(DecimalConverter<int>))]
    public int? Heads { get; init; }

    [CommandOption("--lr <X>")]
    [Description("Peak learning rate of the cosine schedule (AdamW), decaying to 0. Default 2e-2 (built-in corpus), 3e-3 (--text).")]
    public double? LearningRate { get; init; }

    [CommandOption("--time <DURATION>")]
    [Description("Train for this wall-clock time instead of a step count (e.g. 90s, 2m, 1h; at most 168h): the steps are fitted to it from a few seconds of timed steps, so the schedule anneals in time. Default for --text: 2m30s.")]
    public string? Time { get; init; }

    [CommandOption("--early-stop <N>")]
    [Description("Stop when N evaluations in a row have not lowered the validation loss. Default: never. The best checkpoint is always kept in DIR/best.")]
    [TypeConverter(typeof(DecimalConverter<int>))]
    public int? EarlyStop { get; init; }

    [CommandOption("--dropout <P>")]
    [Description("Dropout probability of the embedding and residual branches while training. Default 0 (built-in corpus); --text: 0.2, 0.1 for texts of 500 KB or more; --init: the checkpoint's resid_pdrop.")]
    public double? Dropout { get; init; }

    [CommandOption("--bpe-dropout <P>")]
    [Description("BPE-dropout (--tokenizer bpe, or --init of a bpe export): training windows are drawn from the text's encoding and 8 encodings that skip each merge with probability P; validation stays deterministic. Default 0.1 for a learned encoding of a text under 500 KB, else 0.")]
    public double? BpeDropout { get; init; }

    [CommandOption("--weight-decay <X>")]
    [Description("AdamW's decoupled weight decay of matrices and embeddings. Default 0 (built-in corpus), 0.1 (--text).")]
    public double? WeightDecay { get; init; }

    [CommandOption("--beta1 <X>")]
    [Description("AdamW's beta1, the decay of the gradient's running mean, in [[0, 1). Default 0.9.")]
    public double? Beta1 { get; init; }

    [CommandOption("--beta2 <X>")]
    [Description("AdamW's beta2, the decay of the squared gradient's running mean, in [[0, 1). Default 0.999.")]
    public double? Beta2 { get; init; }

    [CommandOption("--eps <X>")]
    [Description("AdamW's epsilon, added to the root of the second moment (PyTorch's eps). Default 1e-8.")]
    public double? Epsilon { get; init; }

    [CommandOption("--grad-clip <X>")]
    [Description("Clip the gradients to this global L2 norm; 0 turns clipping off. Default 1.")]
    public double? GradClip { get; init; }

    [CommandOption("--warmup <N>")]
    [Description("Linear warm-up steps. Default 5% of --steps.")]
    [TypeConverter(typeof(DecimalConverter<int>))]
    public int? Warmup { get; init; }

    [CommandOption("--seed <S>")]
    [Description("Seed of the model's initialisation and of the batches. Default 1.")]
    [TypeConverter(typeof(DecimalConverter<int>))]
    public int? Seed { get; init; }

    /// <summary>The output folder when neither --out nor --resume is given.</summary>
    public const string DefaultOut = "xent-run";

    [CommandOption("--out <DIR>")]
    [Description("Where to write the checkpoint, metrics.jsonl, loss.png and summary.json. Default: xent-run (or the --resume folder).")]
    public string? Out { get; init; }

    /// <summary>The run folder: --out, else the --resume folder, else <see cref="DefaultOut"/>.</summary>
    internal string OutDir => Out ?? Resume ?? DefaultOut;

    [CommandOption("--resume <DIR>")]
    [Description("Continue from the checkpoint in DIR (model, optimizer state and step).")]
    public string? Resume { get; init; }

    [CommandOption("--init <HF_DIR>")]
    [Description("Fine-tune a Hugging Face GPT-2 folder (config.json + model.safetensors) on --text: its weights, shape and tied or untied head, GPT-2 tokens (or those of the run an export of xent names), a fresh optimizer.")]
    public string? Init { get; init; }

    [CommandOption("--eval-every <K>")]
    [Description("Measure the validation loss and save a checkpoint every K steps. Default 100 (built-in corpus), 200 (--text).")]
    [TypeConverter(typeof(DecimalConverter<int>))]
    public int? EvalEvery { get; init; }

    [CommandOption("--untied")]
    [Description("Use a separate unembedding matrix instead of the token embedding.")]
    public bool Untied { get; init; }

    [CommandOption("--accumulate <N>")]
    [Description("Split each process's share of a batch into N micro-batches (gradient accumulation: the same step in less memory). Default 1.")]
    [TypeConverter(typeof(DecimalConverter<int>))]
    public int? Accumulate { get; init; }

    [CommandOption("--vocab-parallel")]
    [Description("Under mpirun: split the unembedding across the processes by vocabulary (each holds V/K rows and their optimizer state), the rest data-parallel. Needs --untied.")]
    public bool VocabParallel { get; init; }

    [CommandOption("--threads <N>")]
    [Description("Worker threads of the model; -1 = every core (the default).")]
    [TypeConverter(typeof(DecimalConverter<int>))]
    public int? Threads { get; init; }

    /// <summary>Worker threads of the model: null (every core) for -1 or when not given.</summary>
    internal int? ThreadCount => Threads is -1 ? null : Threads;

    public override ValidationResult Validate()
    {
        var missing = MissingValue.Check(("--text", Text), ("--tokenizer", Tokenizer), ("--time", Time));
        if (!missing.Successful)
        {
            return missing;
        }

        // Folders, which .NET would refuse in its own words ("The value cannot be an empty string. (Parameter 'path')").
        foreach (var (option, value) in (ReadOnlySpan<(string, string?)>)[("--out", Out), ("--resume", Resume), ("--init", Init)])
        {
            if (value == MissingValue.Marker)
            {
                return Error($"{option} needs a value.");
            }

            if (value is not null && string.IsNullOrWhiteSpace(value))
            {
                return Error($"{option} needs a folder name, not an empty string.");
            }
        }

        if (Steps is < 1)
        {
            return Error("--steps must be at least 1.");
        }

        if (Batch is < 1)
        {
            return Error("--batch must be at least 1.");
        }

        if (Seq is < 2)
        {
            return Error("--seq must be at least 2.");
        }

        if (Layers is < 1)
        {
            return Error("--layers must be at least 1.");
        }

        if (Dim is < 1)
        {
            return Error("--dim must be at least 1.");
        }

        if (Heads is < 1)
        {
            return Error("--heads must be at least 1.");
        }

        if ((Dim ?? TrainingDefaults.Dim) % (Heads ?? TrainingDefaults.Heads) != 0)
        {
            return Error($"--heads {Heads ?? TrainingDefaults.Heads} must divide --dim {Dim ?? TrainingDefaults.Dim}.");
        }

        if (LearningRate is { } lr && (!double.IsFinite(lr) || lr <= 0))
        {
            return Error("--lr must be a positive number.");
        }

        if (Warmup is < 0)
        {
            return Error("--warmup must not be negative.");
        }

        if (Time is not null && StepBudget.ParseSeconds(Time) is null)
        {
            return Error($"--time must be a positive duration such as 90s, 2m or 1h, not '{Time}'.");
        }

        if (Time is not null && StepBudget.ParseDuration(Time) is null)
        {
            return Error($"--time {Time} is longer than the longest budget, {StepBudget.MaxBudget.TotalHours:0}h (a week).");
        }

        if (Time is not null && Steps is not null)
        {
            return Error("--time and --steps both set the length of the run; give one of them.");
        }

        if (EarlyStop is < 1)
        {
            return Error("--early-stop must be at least 1.");
        }

        if (Dropout is { } p && !(p >= 0 && p < 1))
        {
            return Error("--dropout must be in [0, 1).");
        }

        if (BpeDropout is { } q && !(q >= 0 && q < 1))
        {
            return Error("--bpe-dropout must be in [0, 1).");
        }

        if (WeightDecay is { } wd && (!double.IsFinite(wd) || wd < 0))
        {
            return Error("--weight-decay must be a number >= 0.");
        }

        // Ranges here; the float each becomes (0.99999999999 is 1f) is checked with the run's config (RunConfigValidator).
        foreach (var (option, beta) in (ReadOnlySpan<(string, double?)>)[("--beta1", Beta1), ("--beta2", Beta2)])
        {
            if (beta is { } b && !(b >= 0 && b < 1))
            {
                return Error($"{option} must be in [0, 1).");
            }
        }

        if (Epsilon is { } eps && (!double.IsFinite(eps) || eps <= 0))
        {
            return Error("--eps must be a positive number.");
        }

        if (GradClip is { } clip && (!double.IsFinite(clip) || clip < 0))
        {
            return Error("--grad-clip must be a number >= 0 (0: no clipping).");
        }

        if (EvalEvery is < 1)
        {
            return Error("--eval-every must be at least 1.");
        }

        if (Threads is 0 or < -1)
        {
            return Error($"--threads must be -1 (every core) or at least 1, not {Threads}.");
        }

        if (Accumulate is < 1)
        {
            return Error("--accumulate must be at least 1.");
        }

        // The built-in corpus has its own tokens: markov is never a --text tokenizer.
        if (Tokenizer is not null && (TokenizerNames.Find(Tokenizer) is not { } kind || !TokenizerNames.IsText(kind)))
        {
            return Error($"--tokenizer must be {TokenizerNames.TextChoices}, not '{Tokenizer}'.");
        }

        if (Vocab is not null && (Vocab < 256 || Vocab > 65_536))
        {
            return Error($"--vocab must be from 256 to 65536, not {Vocab}.");
        }

        // A fine-tune's vocabulary is its checkpoint's vocab_size: a BPE learned for a Hugging Face folder of its own
        // has that size, and an export's merges are its run's. A --vocab was ignored there.
        if (Vocab is not null && Init is not null)
        {
            return Error("--vocab comes from the --init checkpoint (its vocab_size; a bpe export's own merges, or for --tokenizer bpe on a folder of Hugging Face's a BPE learned to that size); leave it out.");
        }

        // --vocab without --tokenizer asks for the one tokenizer whose size is chosen: a learned BPE of the text.
        if (Vocab is not null && Resume is null && (Tokenizer is "bytes" or "gpt2" || (Tokenizer is null && Text is null)))
        {
            return Error("--vocab sets the size of the BPE learned on a --text file (bytes and gpt2 have fixed vocabularies, the built-in corpus 32 tokens).");
        }

        if (VocabParallel && !Untied && Resume is null && Init is null)
        {
            return Error("--vocab-parallel splits an untied unembedding across the processes: add --untied (a tied one is also the token embedding, which is not split).");
        }

        if (Init is not null && Resume is not null)
        {
            return Error("--init starts a fine-tune and --resume continues a run: give one of them.");
        }

        if (Tokenizer is not null && Text is null && Resume is null)
        {
            return Error("--tokenizer applies to --text; the built-in corpus has its own symbols.");
        }

        return ValidationResult.Success();
    }

    private static ValidationResult Error(string message) => ValidationResult.Error(message);
}
