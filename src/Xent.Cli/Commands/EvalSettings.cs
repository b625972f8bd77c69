using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using Xent.Cli.Terminal;

namespace Xent.Cli.Commands;

/// <summary>Options of <c>xent eval</c>.</summary>
internal sealed class EvalSettings : CommandSettings
{
    [CommandOption("--checkpoint <DIR>")]
    [Description("Checkpoint folder written by xent train (model.safetensors + config.json), or a Hugging Face GPT-2 folder (config.json with n_embd, model.safetensors).")]
    public string? Checkpoint { get; init; }

    [CommandOption("--last")]
    [Description("Use the run's last checkpoint instead of its best one (DIR/best, the lowest validation loss), the default when it exists.")]
    public bool Last { get; init; }

    [CommandOption("--text <FILE>")]
    [Description("UTF-8 text file to score, tokenized as the checkpoint was trained (for the Markov corpus: its symbols).")]
    public string? Text { get; init; }

    [CommandOption("--tokens <FILE>")]
    [Description("Hugging Face checkpoints: score these GPT-2 token ids (.npy int32/int64, any shape, read flat) instead of --text.")]
    public string? Tokens { get; init; }

    [CommandOption("--window <T>")]
    [Description("Hugging Face checkpoints: tokens per window. Default: the checkpoint's context length (n_positions).")]
    [TypeConverter(typeof(DecimalConverter<int>))]
    public int? Window { get; init; }

    [CommandOption("--stride <S>")]
    [Description("Hugging Face checkpoints: a window starts every S tokens and scores only tokens no earlier window scored (S < T gives each more context). Default: the window.")]
    [TypeConverter(typeof(DecimalConverter<int>))]
    public int? Stride { get; init; }

    [CommandOption("--logits-out <FILE>")]
    [Description("Hugging Face checkpoints: also write the logits [[L, V]] of the first window's L positions as .npy float32 (for side-by-side checks; L forward passes).")]
    public string? LogitsOut { get; init; }

    [CommandOption("--json")]
    [Description("Print the result as one JSON object.")]
    public bool Json { get; init; }

    [CommandOption("--threads <N>")]
    [Description("Worker threads of the model; -1 = every core (the default).")]
    [TypeConverter(typeof(DecimalConverter<int>))]
    public int? Threads { get; init; }

    public override ValidationResult Validate()
    {
        if (string.IsNullOrEmpty(Checkpoint))
        {
            return ValidationResult.Error("--checkpoint DIR is required.");
        }

        if (string.IsNullOrEmpty(Text) == string.IsNullOrEmpty(Tokens))
        {
            return ValidationResult.Error("give one of --text FILE and --tokens FILE.");
        }

        if (Window is < 1 || Stride is < 1)
        {
            return ValidationResult.Error("--window and --stride must be at least 1.");
        }

        if (Threads is 0 or < -1)
        {
            return ValidationResult.Error($"--threads must be -1 (every core) or at least 1, not {Threads}.");
        }

        return ValidationResult.Success();
    }
}
