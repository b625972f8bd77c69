using Spectre.Console.Cli;

namespace Xent.Cli.Terminal;

/// <summary>Turns any exception escaping a verb (or Spectre's parser) into one line on stderr and an exit code.</summary>
internal static class ErrorReporter
{
    private static readonly TimeSpan RankZeroGrace = TimeSpan.FromSeconds(10);

    public static int Report(Exception exception, TextWriter error)
    {
        var (code, message) = Classify(exception);
        if (Xent.Distributed.Communicator.LaunchRank != 0)
        {
            // Under mpirun every rank parses the same command line: rank 0 reports the error once for the job.
            // mpirun aborts the whole job as soon as one rank exits non-zero, so leaving at once could kill rank 0
            // before it writes the line (it did, under load); rank 0's own exit ends this wait by aborting the job.
            // Still alive after it, this rank saw an error rank 0 did not (ranks given different inputs): say it.
            Thread.Sleep(RankZeroGrace);
        }

        error.WriteLine(Line(message));
        error.Flush();
        return code;
    }

    /// <summary>
    /// For a failure of a rank under mpirun: the exit code and line of an error reported in our words (bad input),
    /// as one process reports it; null for any other failure (the job then names the failing rank).
    /// </summary>
    internal static (int ExitCode, string Line)? BadInput(Exception exception) =>
        Classify(exception) is (ExitCodes.BadInput, var message) ? (ExitCodes.BadInput, Line(message)) : null;

    internal static (int Code, string Message) Classify(Exception exception) => exception switch
    {
        XentCliException e => (ExitCodes.BadInput, e.Message),

        // Training-side bad input (a checkpoint or config the validator refused) reaching here from deep in a run.
        Xent.Training.Data.TrainingInputException e => (ExitCodes.BadInput, OneLine(e.Message)),

        // Parse and validation errors of the command line (unknown option, missing value, Validate() failure).
        CommandParseException or CommandRuntimeException => (ExitCodes.BadInput, Spectre(exception)),

        // The library's own argument checks: the input broke the contract (spec: thrown before any output). One the
        // command's own code provoked from .NET (a JSON writer refusing infinity) is a bug in xent, below.
        ArgumentException e when FromLibrary(e) => (ExitCodes.BadInput, OneLine(e.Message)),
        // One of the library's environment variables (XENT_VECTOR_WIDTH, XENT_L2_KB, ...) holds a value it does not take.
        InvalidOperationException e when FromLibrary(e) && e.Message.StartsWith("XENT_", StringComparison.Ordinal) => (ExitCodes.BadInput, OneLine(e.Message)),
        IOException or UnauthorizedAccessException => (ExitCodes.BadInput, OneLine(exception.Message)),
        OutOfMemoryException => (ExitCodes.BadInput, "not enough memory for these arrays."),
        _ => (ExitCodes.InternalError, $"internal error ({exception.GetType().Name}): {OneLine(exception.Message)}. Please report this."),
    };

    private static string Line(string message) => $"xent: error: {message}";

    // xent's libraries: their ArgumentExceptions are their documented checks of what they are given.
    private static readonly HashSet<string> Libraries = ["Xent", "Xent.Training", "Xent.Distributed", "Xent.Baselines"];

    /// <summary>
    /// Whether the innermost of xent's own frames that <paramref name="exception"/> passed through is in one of its
    /// libraries (Xent, Xent.Training, ...), which check their arguments and throw an ArgumentException naming the
    /// problem: the user's input reached them unchecked. The command line's code (Xent.Cli) checks what it passes
    /// on, so an ArgumentException thrown from .NET into it, or by it, is a bug.
    /// </summary>
    internal static bool FromLibrary(Exception exception)
    {
        foreach (var frame in new System.Diagnostics.StackTrace(exception, fNeedFileInfo: false).GetFrames())
        {
            string? assembly = frame.GetMethod()?.DeclaringType?.Assembly.GetName().Name;
            if (assembly == typeof(ErrorReporter).Assembly.GetName().Name)
            {
                return false;
            }

            if (assembly is not null && Libraries.Contains(assembly))
            {
                return true;
            }
        }

        return false;
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();

    /// <summary>Spectre's parse messages, in the user's terms: "Failed to convert 'x' to Single." names a .NET type.</summary>
    private static string Spectre(Exception exception)
    {
        var text = OneLine(exception.Message);
        if (text.Contains(MissingValue.Marker, StringComparison.Ordinal))
        {
            return "an option at the end of the command line has no value.";
        }

        // A lone '-', which many tools read as standard input (--text -): Spectre takes it for a short option without a name.
        if (text == "Option does not have a name.")
        {
            return "a lone '-' is neither an option nor a value: to read standard input give /dev/stdin (--text /dev/stdin), and for the value '-' itself write --option=-.";
        }

        // A word like -Infinity that follows no option that takes a value: xent has no short options to mean.
        if (text.StartsWith("Short option does not have a valid name", StringComparison.Ordinal))
        {
            return text + " xent has no short options: a value that starts with '-' goes right after its option (--logits -Infinity,1 or --logits=-Infinity,1).";
        }

        return text.Replace(" to Single.", " to a number.", StringComparison.Ordinal)
            .Replace(" to Double.", " to a number.", StringComparison.Ordinal)
            .Replace(" to Int32.", " to an integer.", StringComparison.Ordinal)
            .Replace(" to Nullable`1.", OptionalNumber(exception), StringComparison.Ordinal);
    }

    /// <summary>
    /// What an option that may be left out (int?, long?, double?) takes: Spectre names its type Nullable`1, and
    /// --lr 0,001 was said not to be an integer. The converter underneath names the value's type ("0,001 is not a
    /// valid value for Double.").
    /// </summary>
    private static string OptionalNumber(Exception exception) =>
        exception.InnerException?.Message is { } inner
        && (inner.Contains("for Double.", StringComparison.Ordinal) || inner.Contains("for Single.", StringComparison.Ordinal))
            ? " to a number."
            : " to an integer.";
}
