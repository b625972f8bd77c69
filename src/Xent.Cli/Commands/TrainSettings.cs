using System.ComponentModel;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Xent.Cli.Commands;

/// <summary>Options of <c>xent train</c>. Model and data options are null when not given, so that a resumed run can tell them apart from defaults.</summary>
internal sealed class TrainSettings : CommandSettings
{
    [CommandOption("--text <FILE>")]
    [Description("Train on this UTF-8 text file instead of the built-in Markov corpus (last 10% of tokens for validation).")]
    public string? Text { get; init; }

    [CommandOption("--tokenizer <KIND>")]
    [Description("Tokenizer for --text: bytes (V = 256, default) or gpt2 (V = 50257).")]
    public string? Tokenizer { get; init; }

    [CommandOption("--steps <N>")]
    [Description("Total optimizer steps (a resumed run continues up to this step). Default 2400.")]
    public int? Steps { get; init; }

    [CommandOption("--batch <B>")]
    [Description("Sequences per step. Default 16.")]
    public int? Batch { get; init; }

    [CommandOption("--seq <T>")]
    [Description("Tokens per sequence (the model's context length). Default 128.")]
    public int? Seq { get; init; }

    [CommandOption("--layers <L>")]
    [Description("Transformer blocks. Default 2.")]
    public int? Layers { get; init; }

    [CommandOption("--dim <D>")]
    [Description("Model width. Default 64.")]
    public int? Dim { get; init; }

    [CommandOption("--heads <H>")]
    [Description("Attention heads (must divide --dim). Default 4.")]
    public int? Heads { get; init; }

    [CommandOption("--lr <X>")]
    [Description("Peak learning rate of the cosine schedule (AdamW), decaying to 0. Default 2e-2.")]
    public double? LearningRate { get; init; }

    [CommandOption("--warmup <N>")]
    [Description("Linear warm-up steps. Default 5% of --steps.")]
    public int? Warmup { get; init; }

    [CommandOption("--seed <S>")]
    [Description("Seed of the model's initialisation and of the batches. Default 1.")]
    public int? Seed { get; init; }

    [CommandOption("--out <DIR>")]
    [Description("Where to write the checkpoint, metrics.jsonl, loss.png and summary.json. Default: xent-run (or the --resume folder).")]
    public string? Out { get; init; }

    [CommandOption("--resume <DIR>")]
    [Description("Continue from the checkpoint in DIR (model, optimizer state and step).")]
    public string? Resume { get; init; }

    [CommandOption("--eval-every <K>")]
    [Description("Measure the validation loss and save a checkpoint every K steps. Default 100.")]
    public int? EvalEvery { get; init; }

    [CommandOption("--untied")]
    [Description("Use a separate unembedding matrix instead of the token embedding.")]
    public bool Untied { get; init; }

    [CommandOption("--threads <N>")]
    [Description("Worker threads of the model (default: all cores).")]
    public int? Threads { get; init; }

    public override ValidationResult Validate()
    {
        if (Steps is < 1) return Error("--steps must be at least 1.");
        if (Batch is < 1) return Error("--batch must be at least 1.");
        if (Seq is < 2) return Error("--seq must be at least 2.");
        if (Layers is < 1) return Error("--layers must be at least 1.");
        if (Dim is < 1) return Error("--dim must be at least 1.");
        if (Heads is < 1) return Error("--heads must be at least 1.");
        if ((Dim ?? TrainDefaults.Dim) % (Heads ?? TrainDefaults.Heads) != 0)
            return Error($"--heads {Heads ?? TrainDefaults.Heads} must divide --dim {Dim ?? TrainDefaults.Dim}.");
        if (LearningRate is { } lr && (!double.IsFinite(lr) || lr <= 0))
            return Error("--lr must be a positive number.");
        if (Warmup is < 0) return Error("--warmup must not be negative.");
        if (EvalEvery is < 1) return Error("--eval-every must be at least 1.");
        if (Threads is < 1) return Error("--threads must be at least 1.");
        if (Tokenizer is not null && Tokenizer is not ("bytes" or "gpt2"))
            return Error($"--tokenizer must be bytes or gpt2, not '{Tokenizer}'.");
        if (Tokenizer is not null && Text is null && Resume is null)
            return Error("--tokenizer applies to --text; the built-in corpus has its own symbols.");
        return ValidationResult.Success();
    }

    private static ValidationResult Error(string message) => ValidationResult.Error(message);
}

/// <summary>
/// Defaults of <c>xent train</c>: on the built-in corpus they finish in about a minute on 2 cores and end near
/// the entropy floor (measured numbers: docs/training.md).
/// </summary>
internal static class TrainDefaults
{
    public const int Steps = 2400;
    public const int Batch = 16;

    // 128 rather than 64: the first position of a window sees one symbol only, and its excess loss is
    // averaged over T positions (window floor 1.0081 at T = 128 against 1.0255 at T = 64).
    public const int Seq = 128;
    public const int Layers = 2;
    public const int Dim = 64;
    public const int Heads = 4;
    // Tuned on the built-in corpus (docs/training.md): 2e-2 leaves the initial plateau (loss ~3.2, before the
    // model learns to attend to the previous symbol) within ~200 steps; 3e-2 ended worse, 1e-2 too slow.
    public const double LearningRate = 2e-2;

    /// <summary>The cosine decays to this share of the peak; decaying to 0 gave the lowest final loss (the last
    /// phase, fitting 1 024 next-symbol distributions, is limited by gradient noise).</summary>
    public const double MinLearningRateRatio = 0.0;
    public const int Seed = 1;
    public const int EvalEvery = 100;
    public const string Out = "xent-run";
    public const double WeightDecay = 0.0;
    public const double GradClip = 1.0;
    /// <summary>Validation tokens per measurement: enough that its noise (about 0.01 nats) is small against the gaps reported.</summary>
    public const int ValidationTokens = 16_384;

    /// <summary>Validation windows of T tokens covering <see cref="ValidationTokens"/>.</summary>
    public static int ValidationWindows(int seq) => Math.Max(1, ValidationTokens / seq);

    /// <summary>Warm-up: 5% of the steps (at least 1 when there are 20 steps or more).</summary>
    public static int Warmup(int steps) => steps / 20;

    public static string Describe(double x) => x.ToString("G4", CultureInfo.InvariantCulture);
}
