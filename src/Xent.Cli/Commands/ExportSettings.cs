using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using Xent.Cli.Terminal;

namespace Xent.Cli.Commands;

/// <summary>Options of <c>xent export</c>.</summary>
internal sealed class ExportSettings : CommandSettings
{
    [CommandOption("--format <FORMAT>")]
    [Description("Output layout: hf (a Hugging Face GPT-2 folder that GPT2LMHeadModel.from_pretrained loads).")]
    [DefaultValue("hf")]
    public string Format { get; init; } = "hf";

    [CommandOption("--checkpoint <DIR>")]
    [Description("Checkpoint folder written by xent train.")]
    public string? Checkpoint { get; init; }

    [CommandOption("--last")]
    [Description("Export the run's last checkpoint instead of its best one (DIR/best, the lowest validation loss), the default when it exists.")]
    public bool Last { get; init; }

    [CommandOption("--out <DIR>")]
    [Description("Folder to write config.json and model.safetensors into (created if missing; files of those names are replaced, but never a checkpoint of xent train).")]
    public string? Out { get; init; }

    public override ValidationResult Validate()
    {
        var missing = MissingValue.Check(("--format", Format), ("--checkpoint", Checkpoint), ("--out", Out));
        if (!missing.Successful)
        {
            return missing;
        }

        if (Format != "hf")
        {
            return ValidationResult.Error($"--format must be hf (Hugging Face GPT-2), not '{Format}'.");
        }

        if (string.IsNullOrEmpty(Checkpoint) || string.IsNullOrEmpty(Out))
        {
            return ValidationResult.Error("--checkpoint DIR and --out DIR are required.");
        }

        return ValidationResult.Success();
    }
}
