using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Xent.Cli.Commands;

/// <summary>Options of <c>xent eval</c>.</summary>
internal sealed class EvalSettings : CommandSettings
{
    [CommandOption("--checkpoint <DIR>")]
    [Description("Checkpoint folder written by xent train (model.safetensors + config.json).")]
    public string? Checkpoint { get; init; }

    [CommandOption("--last")]
    [Description("Use the run's last checkpoint instead of its best one (DIR/best, the lowest validation loss), the default when it exists.")]
    public bool Last { get; init; }

    [CommandOption("--text <FILE>")]
    [Description("UTF-8 text file to score, tokenized as the checkpoint was trained (for the Markov corpus: its symbols).")]
    public string? Text { get; init; }

    [CommandOption("--json")]
    [Description("Print the result as one JSON object.")]
    public bool Json { get; init; }

    [CommandOption("--threads <N>")]
    [Description("Worker threads of the model (default: all cores).")]
    public int? Threads { get; init; }

    public override ValidationResult Validate()
    {
        if (string.IsNullOrEmpty(Checkpoint)) return ValidationResult.Error("--checkpoint DIR is required.");
        if (string.IsNullOrEmpty(Text)) return ValidationResult.Error("--text FILE is required.");
        if (Threads is < 1) return ValidationResult.Error("--threads must be at least 1.");
        return ValidationResult.Success();
    }
}
