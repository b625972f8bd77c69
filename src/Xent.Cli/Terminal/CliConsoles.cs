using Spectre.Console;

namespace Xent.Cli.Terminal;

/// <summary>
/// Where a verb writes: <see cref="Out"/> for results (tables, the loss, JSON) and <see cref="Error"/> for
/// diagnostics. Tests pass their own writers to run the app in-process.
/// </summary>
internal sealed class CliConsoles
{
    public CliConsoles(IAnsiConsole @out, TextWriter error, IAnsiConsole errorConsole)
    {
        Out = @out;
        Error = error;
        ErrorConsole = errorConsole;
    }

    /// <summary>Results. Use <see cref="WriteLine"/> for machine-read text: it bypasses Spectre's line wrapping.</summary>
    public IAnsiConsole Out { get; }

    /// <summary>Error messages (standard error).</summary>
    public TextWriter Error { get; }

    /// <summary>Standard error as a console, for Spectre's help when it is a usage error (no verb given).</summary>
    public IAnsiConsole ErrorConsole { get; }

    /// <summary>The process's own standard output and standard error.</summary>
    public static CliConsoles Standard()
    {
        TakeStandardStreams();
        var console = AnsiConsole.Console;
        var error = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(System.Console.Error) });

        // Redirected output has no width; Spectre then assumes 80 columns, too narrow for the bench table.
        if (System.Console.IsOutputRedirected)
        {
            console.Profile.Width = 120;
        }

        if (System.Console.IsErrorRedirected)
        {
            error.Profile.Width = 120;
        }

        return new CliConsoles(console, System.Console.Error, error);
    }

    private static readonly Lock StreamsGate = new();
    private static bool streamsTaken;

    /// <summary>
    /// Puts <see cref="StandardStreamWriter"/> in front of the process's standard output and error, once and before
    /// Spectre's consoles are made: they tell a terminal by comparing their writer with <see cref="System.Console.Out"/>
    /// (<see cref="System.Console.Error"/>).
    /// </summary>
    private static void TakeStandardStreams()
    {
        lock (StreamsGate)
        {
            if (streamsTaken)
            {
                return;
            }

            System.Console.SetOut(new StandardStreamWriter(System.Console.Out, diagnostics: false));
            System.Console.SetError(new StandardStreamWriter(System.Console.Error, diagnostics: true));
            streamsTaken = true;
        }
    }

    /// <summary>A console writing plain text (no colours, no ANSI codes) to <paramref name="out"/>; for tests.</summary>
    public static CliConsoles Plain(TextWriter @out, TextWriter error, int width = 160) =>
        new(PlainConsole(@out, width), error, PlainConsole(error, width));

    private static IAnsiConsole PlainConsole(TextWriter writer, int width)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(writer),
        });
        console.Profile.Width = width;
        return console;
    }

    /// <summary>Writes one line verbatim to standard output (no markup, no wrapping).</summary>
    public void WriteLine(string text)
    {
        var writer = Out.Profile.Out.Writer;
        writer.WriteLine(text);
        writer.Flush();
    }
}
