using System.Text;
using Xent.Training.Checkpoints;

namespace Xent.Cli.Terminal;

/// <summary>
/// The process's standard output or standard error, deciding what a failed write (a closed descriptor, a full disk,
/// <c>&gt; /dev/full</c>) does. .NET throws a bare IOException ("No space left on device") that names no stream, and
/// one thrown while the error line itself is written escaped every handler and aborted the process (exit 134).
/// A write to standard output that fails is bad output (<see cref="XentCliException"/>, exit 2: "cannot write to
/// standard output: the disk is full."); one to standard error is dropped, since there is nowhere left to say it
/// and the exit code still tells what happened. (.NET already drops writes to a closed pipe, as in
/// <c>xent sample | head -c 10</c>.)
/// </summary>
internal sealed class StandardStreamWriter : TextWriter
{
    private readonly TextWriter inner;
    private readonly bool diagnostics;
    private const int InputOutputError = 5; // EIO

    private volatile bool terminalClosed;

    /// <param name="inner">The stream's writer.</param>
    /// <param name="diagnostics">True for standard error: failed writes are dropped.</param>
    public StandardStreamWriter(TextWriter inner, bool diagnostics)
    {
        this.inner = inner;
        this.diagnostics = diagnostics;
    }

    public override Encoding Encoding => inner.Encoding;

    public override IFormatProvider FormatProvider => inner.FormatProvider;

    [System.Diagnostics.CodeAnalysis.AllowNull]
    public override string NewLine
    {
        get => inner.NewLine;
        set => inner.NewLine = value;
    }

    /// <summary>
    /// The process's terminal went away (SIGHUP): from now on a failed write to standard output is dropped as one to
    /// standard error is. A run stopping for a closed ssh session still has its last step and checkpoint to finish,
    /// and every line it prints would fail (EIO) and end it with exit 2 before that, or after it, in place of 129.
    /// </summary>
    public static void TerminalClosed()
    {
        if (System.Console.Out is StandardStreamWriter output)
        {
            output.terminalClosed = true;
        }
    }

    /// <summary>The exception for a write to standard output that failed with <paramref name="error"/>.</summary>
    public static XentCliException OutputFailed(Exception error)
    {
        string problem = error is UnauthorizedAccessException
            ? "it is closed or not open for writing"
            : FileProblems.IsDiskFull(error) ? "the disk is full" : error.Message.TrimEnd('.');
        return new XentCliException($"cannot write to standard output: {problem}.", error);
    }

    public override void Write(char value) => Guarded(value, static (writer, v) => writer.Write(v));

    public override void Write(char[] buffer, int index, int count) =>
        Guarded((buffer, index, count), static (writer, v) => writer.Write(v.buffer, v.index, v.count));

    public override void Write(ReadOnlySpan<char> buffer) => Guarded(buffer, static (writer, v) => writer.Write(v));

    public override void Write(string? value) => Guarded(value, static (writer, v) => writer.Write(v));

    public override void WriteLine(string? value) => Guarded(value, static (writer, v) => writer.WriteLine(v));

    public override void Flush() => Guarded(0, static (writer, _) => writer.Flush());

    // One write to the inner writer with its failure decided by Failed. The lambdas are static, so no call allocates.
    private void Guarded<T>(T value, InnerWrite<T> write)
        where T : allows ref struct
    {
        try
        {
            write(inner, value);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Failed(e);
        }
    }

    private void Failed(Exception error)
    {
        // EIO from a terminal: it has hung up, and SIGHUP is on its way (the kernel sends it as it hangs up), so this
        // write may come before the signal's handler has run.
        if (!diagnostics && !terminalClosed && !(error.HResult == InputOutputError && !System.Console.IsOutputRedirected))
        {
            throw OutputFailed(error);
        }
    }

    private delegate void InnerWrite<T>(TextWriter writer, T value)
        where T : allows ref struct;
}
