using Spectre.Console.Cli;
using Xent.Cli.IO;
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
        if (settings.Plot is { } plot)
        {
            // Before any work, as xent loss checks its outputs: a folder, a missing folder or an input named as the
            // plot is refused with nothing printed.
            OutputDestination.Check(plot, "--plot", "plot.png");
            DistinctFiles.Check(input.Files, [("--plot", plot)]);
        }

        var options = settings.LossOptions with
        {
            ClassWeights = input.Weights,
        };
        var trace = CrossEntropyRowTrace.Of(input.Logits, input.Target, options);
        float[] scaledLogits = [.. input.Logits.Select(x => x * ExplainReport.Scale)];
        var scaled = scaledLogits.All(float.IsFinite) || !input.Logits.All(float.IsFinite)
            ? CrossEntropyRowTrace.Of(scaledLogits, input.Target, options)
            : null;
        // The plot first: a failure to write it (a full disk) then comes before the tables, not after them.
        if (settings.Plot is not null)
        {
            ExplainPlot.Save(settings.Plot, trace);
        }

        ExplainReport.Write(io, input, trace, scaled, settings.Top);
        if (settings.Plot is not null)
        {
            io.WriteLine($"plot: {settings.Plot}");
        }

        return ExitCodes.Ok;
    }
}
