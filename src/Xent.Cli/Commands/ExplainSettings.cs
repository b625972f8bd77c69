using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using Xent.Cli.Terminal;

namespace Xent.Cli.Commands;

/// <summary>Options of <c>xent explain</c>.</summary>
internal sealed class ExplainSettings : LossOptionSettings
{
    private const int DefaultTop = 20;

    [CommandOption("--logits <VALUES|FILE>")]
    [Description("One row of logits [[V]] as comma-separated numbers (2.0,1.0,0.1), or a .npy / safetensors file of logits [[..., V]] (then --targets and --row pick the row).")]
    public string? Logits { get; set; }

    [CommandOption("--target <Y>")]
    [Description("The target class y of an inline row, in [[0, V) or the ignore index.")]
    [TypeConverter(typeof(DecimalConverter<int>))]
    public int? Target { get; set; }

    [CommandOption("--targets <FILE>")]
    [Description("Targets [[...]] of a logits file (int32 or int64, .npy or safetensors).")]
    public string? Targets { get; set; }

    [CommandOption("--row <K>")]
    [Description("Which row of a logits file to explain (flat index over all axes but the last). Default 0.")]
    [TypeConverter(typeof(DecimalConverter<long>))]
    public long? Row { get; set; }

    [CommandOption("--weights <VALUES|FILE>")]
    [Description("Class weights [[V]]: comma-separated numbers or a .npy / safetensors file. Default: all 1.")]
    public string? Weights { get; set; }

    [CommandOption("--top <K>")]
    [Description("Rows of the per-class table for a long row: the K most probable classes and the target. Default 20.")]
    [DefaultValue(DefaultTop)]
    [TypeConverter(typeof(DecimalConverter<int>))]
    public int Top { get; set; } = DefaultTop;

    [CommandOption("--plot <FILE.png>")]
    [Description("Also draw the probabilities and the gradient as bars into this PNG.")]
    public string? Plot { get; set; }

    [CommandOption("--intuition")]
    [Description("Instead: the loss -ln p of a target given probability p, and ln V, the loss of a uniform guess, for common vocabularies.")]
    public bool Intuition { get; set; }

    public override ValidationResult Validate()
    {
        var missing = MissingValue.Check(("--logits", Logits), ("--targets", Targets), ("--weights", Weights), ("--plot", Plot));
        if (!missing.Successful)
        {
            return missing;
        }

        if (Intuition)
        {
            // Any other option would be silently ignored; --top and the loss options are checked by value (their
            // defaults cannot be told from the same value given).
            bool alone = Logits is null && Targets is null && Target is null && Row is null && Weights is null && Plot is null
                && Top == DefaultTop && LossOptions == new CrossEntropyOptions();
            return alone
                ? ValidationResult.Success()
                : ValidationResult.Error("--intuition prints its own tables: do not combine it with --logits, --target(s), --row, --weights, --top, --plot or the loss options.");
        }

        if (Logits is null)
        {
            return ValidationResult.Error("--logits is required: comma-separated numbers (with --target) or a file (with --targets and --row); or use --intuition.");
        }

        if (Row is < 0)
        {
            return ValidationResult.Error($"--row must be >= 0, not {Row}.");
        }

        if (Top < 1)
        {
            return ValidationResult.Error($"--top must be >= 1, not {Top}.");
        }

        if (ValidateLossOptions() is { } bad)
        {
            return bad;
        }

        return ValidationResult.Success();
    }
}
