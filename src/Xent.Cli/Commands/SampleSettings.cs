using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using Xent.Cli.Terminal;

namespace Xent.Cli.Commands;

/// <summary>Options of <c>xent sample</c>.</summary>
internal sealed class SampleSettings : CommandSettings
{
    [CommandOption("--checkpoint <DIR>")]
    [Description("Checkpoint folder written by xent train, or a Hugging Face GPT-2 folder (config.json with n_embd, model.safetensors).")]
    public string? Checkpoint { get; init; }

    [CommandOption("--last")]
    [Description("Use the run's last checkpoint instead of its best one (DIR/best, the lowest validation loss), the default when it exists.")]
    public bool Last { get; init; }

    [CommandOption("--prompt <TEXT>")]
    [Description("Text to continue (default: a newline for text models, <|endoftext|> for GPT-2, two corpus symbols for the Markov corpus).")]
    public string? Prompt { get; init; }

    [CommandOption("--tokens <N>")]
    [Description("Tokens to generate. Default 200.")]
    [TypeConverter(typeof(DecimalConverter<int>))]
    public int Tokens { get; init; } = 200;

    [CommandOption("--temperature <X>")]
    [Description("Softmax temperature; 0 always takes the most likely token. Default 1.")]
    public double Temperature { get; init; } = 1.0;

    [CommandOption("--top-k <K>")]
    [Description("Sample among the K most likely tokens only; 0 for all. Default 0.")]
    [TypeConverter(typeof(DecimalConverter<int>))]
    public int TopK { get; init; }

    [CommandOption("--top-p <P>")]
    [Description("Nucleus sampling: only the fewest most likely tokens whose probabilities (after --temperature and --top-k) add up to P or more; in (0, 1]], 1 for all. Default 1.")]
    public double TopP { get; init; } = 1.0;

    [CommandOption("--seed <S>")]
    [Description("Seed of the sampling. Default 0.")]
    [TypeConverter(typeof(DecimalConverter<int>))]
    public int Seed { get; init; }

    public override ValidationResult Validate()
    {
        if (string.IsNullOrEmpty(Checkpoint))
        {
            return ValidationResult.Error("--checkpoint DIR is required.");
        }

        if (Tokens < 1)
        {
            return ValidationResult.Error("--tokens must be at least 1.");
        }

        if (!double.IsFinite(Temperature) || Temperature < 0)
        {
            return ValidationResult.Error("--temperature must be a number >= 0.");
        }

        if (TopK < 0)
        {
            return ValidationResult.Error("--top-k must not be negative.");
        }

        // NaN fails both comparisons.
        if (!(TopP > 0 && TopP <= 1))
        {
            return ValidationResult.Error("--top-p must be a number in (0, 1]; 1 for no top-p filtering.");
        }

        if (Prompt is { Length: 0 })
        {
            return ValidationResult.Error("--prompt must not be empty.");
        }

        return ValidationResult.Success();
    }
}
