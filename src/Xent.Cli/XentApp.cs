using System.Reflection;
using Spectre.Console.Cli;
using Xent.Cli.Commands;
using Xent.Cli.Terminal;

namespace Xent.Cli;

/// <summary>Builds the command tree; each verb lives in its own file under Commands/.</summary>
internal sealed class XentApp
{
    private readonly CommandApp app;
    private readonly CliConsoles io;

    private XentApp(CommandApp app, CliConsoles io)
    {
        this.app = app;
        this.io = io;
    }

    /// <summary>The app writing to <paramref name="consoles"/> (null: the process's stdout and stderr).</summary>
    public static XentApp Create(CliConsoles? consoles = null)
    {
        var io = consoles ?? CliConsoles.Standard();
        var app = new CommandApp();
        app.Configure(config =>
        {
            config.SetApplicationName("xent");
            // The package's version (0.1.0, with the commit after a '+' where the build knew it), not the assembly's
            // four-part one, so that it matches what `dotnet tool list` and NuGet show.
            config.SetApplicationVersion(typeof(CrossEntropy).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0");
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
        return new XentApp(app, io);
    }

    /// <summary>Runs one command line; an option's value that starts with '-' is first joined to it (<see cref="OptionValues"/>).</summary>
    /// <param name="args">The command line.</param>
    /// <param name="cancellationToken">The verb's token (a host embedding the app; the process's own signals are the verbs' business).</param>
    public int Run(IEnumerable<string> args, CancellationToken cancellationToken = default)
    {
        var line = OptionValues.Join(args);
        if (line.Length == 0)
        {
            // Spectre answers an empty command line with the root help on stdout and exit 0, as if --help had been
            // asked for, so a script that lost its verb would pass. It is a bad command line: the same help goes to
            // stderr, then the error line and exit code of any other (an unknown verb: exit 2).
            Create(new CliConsoles(io.ErrorConsole, io.Error, io.ErrorConsole)).app.Run(["--help"], cancellationToken);
            return ErrorReporter.Report(new XentCliException("no command given: name one of the COMMANDS above (xent COMMAND --help for its options)."), io.Error);
        }

        return app.Run(line, cancellationToken);
    }
}
