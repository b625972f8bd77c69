using Spectre.Console.Cli;
using Xent.Cli.Commands;
using Xent.Cli.Terminal;

namespace Xent.Cli;

/// <summary>Builds the command tree; each verb lives in its own file under Commands/.</summary>
internal static class XentApp
{
    /// <summary>The app writing to <paramref name="consoles"/> (null: the process's stdout and stderr).</summary>
    public static CommandApp Create(CliConsoles? consoles = null)
    {
        var io = consoles ?? CliConsoles.Standard();
        var app = new CommandApp();
        app.Configure(config =>
        {
            config.SetApplicationName("xent");
            config.SetApplicationVersion(typeof(CrossEntropy).Assembly.GetName().Version?.ToString() ?? "0");
            config.ConfigureConsole(io.Out);
            config.Settings.Registrar.RegisterInstance(io);
            config.SetExceptionHandler((ex, _) => ErrorReporter.Report(ex, io.Error));
            config.UseStrictParsing();

            // Verbs register here, one line each (see Commands/).
            LossCommand.Register(config);
            BenchCommand.Register(config);
            TrainCommand.Register(config);
            SampleCommand.Register(config);
            EvalCommand.Register(config);
            ExplainCommand.Register(config);
            ExportCommand.Register(config);
        });
        return app;
    }
}
