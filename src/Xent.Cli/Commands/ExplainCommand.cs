using Spectre.Console.Cli;
using Xent.Cli.Terminal;
using Xent.Reference;

namespace Xent.Cli.Commands;

/// <summary>
/// <c>xent explain</c>: the loss of one row computed step by step for someone learning it, every number from the
/// float64 reference (<see cref="CrossEntropyRowTrace"/>), so what it teaches is what runs.
/// </summary>
internal sealed class ExplainCommand : Command<ExplainSettings>
{
    private readonly CliConsoles io;

    public ExplainCommand(CliConsoles io) => this.io = io;

    public static void Register(IConfigurator config) =>
        config.AddCommand<ExplainCommand>("explain")
            .WithDescription("The cross-entropy of one row step by step (max, exponentials, log-sum-exp, probabilities, loss, gradient) and why the naive formula overflows; --intuition tabulates -ln p and ln V.")
            .WithExample("explain", "--logits", "2.0,1.0,0.1", "--target", "0")
            .WithExample("explain", "--logits", "logits.npy", "--targets", "targets.npy", "--row", "3", "--label-smoothing", "0.1")
            .WithExample("explain", "--intuition");

    public override int Execute(CommandContext context, ExplainSettings settings, CancellationToken cancellationToken)
    {
        if (settings.Intuition)
        {
            ExplainIntuition.Write(io);
            return ExitCodes.Ok;
        }

        var input = ExplainInput.Load(settings);
        var options = settings.LossOptions with
        {
            ClassWeights = input.Weights,
        };
        var trace = CrossEntropyRowTrace.Of(input.Logits, input.Target, options);
        float[] scaledLogits = [.. input.Logits.Select(x => x * ExplainReport.Scale)];
        var scaled = scaledLogits.All(float.IsFinite) || !input.Logits.All(float.IsFinite)
            ? CrossEntropyRowTrace.Of(scaledLogits, input.Target, options)
            : null;
        ExplainReport.Write(io, input, trace, scaled, settings.Top);
        if (settings.Plot is not null)
        {
            ExplainPlot.Save(settings.Plot, trace);
            io.WriteLine($"plot: {settings.Plot}");
        }

        return ExitCodes.Ok;
    }
}
