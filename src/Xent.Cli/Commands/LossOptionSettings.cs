using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using Xent.Cli.Terminal;

namespace Xent.Cli.Commands;

/// <summary>
/// The options of the loss itself, as <see cref="CrossEntropyOptions"/> has them, shared by <c>xent loss</c> and
/// <c>xent explain</c> so that both parse and check them the same way.
/// </summary>
internal abstract class LossOptionSettings : CommandSettings
{
    [CommandOption("--ignore-index <INDEX>")]
    [Description("Target value whose rows are ignored (loss and gradient 0; any int, also one in [[0, V)).")]
    [DefaultValue(-100)]
    [TypeConverter(typeof(DecimalConverter<int>))]
    public int IgnoreIndex { get; set; } = -100;

    [CommandOption("--label-smoothing <E>")]
    [Description("Label smoothing e in [[0, 1]].")]
    [DefaultValue(0f)]
    public float LabelSmoothing { get; set; }

    [CommandOption("--z-loss <L>")]
    [Description("Z-loss coefficient l >= 0: adds l * logsumexp^2 per row.")]
    [DefaultValue(0f)]
    public float ZLoss { get; set; }

    [CommandOption("--soft-cap <S>")]
    [Description("Logit soft cap s >= 0: logits become s * tanh(x / s) first. 0 = off.")]
    [DefaultValue(0f)]
    public float SoftCap { get; set; }

    /// <summary>The loss options these flags give (class weights and the rest come from the command).</summary>
    public CrossEntropyOptions LossOptions => new()
    {
        IgnoreIndex = IgnoreIndex,
        LabelSmoothing = LabelSmoothing,
        ZLoss = ZLoss,
        SoftCap = SoftCap,
    };

    /// <summary>Checks the loss options' ranges; null when they are valid.</summary>
    protected ValidationResult? ValidateLossOptions()
    {
        if (!(LabelSmoothing >= 0f && LabelSmoothing <= 1f))
        {
            return ValidationResult.Error($"--label-smoothing must be in [0, 1], not {LabelSmoothing}.");
        }

        if (!(ZLoss >= 0f) || float.IsInfinity(ZLoss))
        {
            return ValidationResult.Error($"--z-loss must be a finite value >= 0, not {ZLoss}.");
        }

        if (!(SoftCap >= 0f) || float.IsInfinity(SoftCap))
        {
            return ValidationResult.Error($"--soft-cap must be a finite value >= 0 (0 = off), not {SoftCap}.");
        }

        return null;
    }
}
