using Spectre.Console.Cli;

namespace Xent.Cli.Commands;

/// <summary>Placeholder; filled in the next step.</summary>
internal sealed class BenchCommand : Command<CommandSettings>
{
    public static void Register(IConfigurator config) => config.AddCommand<BenchCommand>("bench");

    public override int Execute(CommandContext context, CommandSettings settings, CancellationToken cancellationToken) => 0;
}
