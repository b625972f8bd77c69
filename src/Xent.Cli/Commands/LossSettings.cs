using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using Xent.Cli.Terminal;

namespace Xent.Cli.Commands;

/// <summary>Options of <c>xent loss</c>.</summary>
internal sealed class LossSettings : LossOptionSettings
{
    [CommandOption("--logits <FILE>")]
    [Description("Logits [[..., V]]: .npy (float32, float16; float64 is converted to float32) or a safetensors file holding a tensor 'logits' (F32, F16, BF16, F64). C order; any rank >= 1, the last axis is the vocabulary.")]
    public string? Logits { get; set; }

    [CommandOption("--targets <FILE>")]
    [Description("Targets [[...]] (the logits' shape without its last axis): int32 or int64 class indices in [[0, V) or the ignore index. .npy, or a safetensors file holding 'targets'. Default: the 'targets' tensor of the --logits safetensors file.")]
    public string? Targets { get; set; }

    [CommandOption("--input <FILE>")]
    [Description("A safetensors file holding both 'logits' and 'targets' (and optionally 'weights'): shorthand for --logits FILE --targets FILE.")]
    public string? Input { get; set; }

    [CommandOption("--weights <FILE>")]
    [Description("Class weights [[V]] (float, .npy or a safetensors 'weights' tensor). Default: all 1.")]
    public string? Weights { get; set; }

    [CommandOption("--reduction <MODE>")]
    [Description("mean, sum or none (none prints one loss per row; with --grad the gradient is that of sum(losses)).")]
    [DefaultValue("mean")]
    public string Reduction { get; set; } = "mean";

    [CommandOption("--grad <FILE>")]
    [Description("Write d(loss)/d(logits) here as .npy of the logits' shape [[..., V]]: float16 for float16 logits (as PyTorch), float32 otherwise.")]
    public string? Grad { get; set; }

    [CommandOption("--losses <FILE>")]
    [Description("Write the per-row losses here as .npy float32 of the targets' shape [[...]] (0 for ignored rows).")]
    public string? Losses { get; set; }

    [CommandOption("--threads <T>")]
    [Description("Most threads to use; -1 = every core. The result is bitwise the same for any value.")]
    [DefaultValue(-1)]
    [TypeConverter(typeof(DecimalConverter<int>))]
    public int Threads { get; set; } = -1;

    [CommandOption("--json")]
    [Description("Print one JSON object (loss, rows, classes, reduction, ...) instead of text.")]
    public bool Json { get; set; }

    internal Xent.Reduction ParsedReduction => Reduction.ToLowerInvariant() switch
    {
        "mean" => Xent.Reduction.Mean,
        "sum" => Xent.Reduction.Sum,
        _ => Xent.Reduction.None,
    };

    public override ValidationResult Validate()
    {
        var missing = MissingValue.Check(("--logits", Logits), ("--targets", Targets), ("--input", Input), ("--weights", Weights),
            ("--reduction", Reduction), ("--grad", Grad), ("--losses", Losses));
        if (!missing.Successful)
        {
            return missing;
        }

        if (Input is not null && (Logits is not null || Targets is not null))
        {
            return ValidationResult.Error("--input already names the logits and targets: do not combine it with --logits or --targets.");
        }

        if (Input is null && Logits is null)
        {
            return ValidationResult.Error("--logits FILE is required (or --input FILE.safetensors).");
        }

        if (Reduction.ToLowerInvariant() is not ("mean" or "sum" or "none"))
        {
            return ValidationResult.Error($"--reduction must be mean, sum or none, not '{Reduction}'.");
        }

        if (ValidateLossOptions() is { } bad)
        {
            return bad;
        }

        if (Threads == 0 || Threads < -1)
        {
            return ValidationResult.Error($"--threads must be -1 (every core) or >= 1, not {Threads}.");
        }

        return ValidationResult.Success();
    }
}
