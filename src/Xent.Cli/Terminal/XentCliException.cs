namespace Xent.Cli.Terminal;

/// <summary>
/// Bad input from the user (a missing or malformed file, shapes that disagree, a bad option value). The CLI prints
/// only <see cref="Exception.Message"/>, never a stack trace, and exits with <see cref="ExitCodes.BadInput"/>.
/// </summary>
internal sealed class XentCliException : Exception
{
    public XentCliException(string message)
        : base(message)
    {
    }

    public XentCliException(string message, Exception inner)
        : base(message, inner)
    {
    }

    /// <summary>A problem with one file: the message starts with the file's path.</summary>
    public static XentCliException InFile(string path, string problem) => new($"{path}: {problem}");

    /// <summary>A problem with one file that <paramref name="inner"/> (e.g. an I/O error) caused, kept as the inner exception.</summary>
    public static XentCliException InFile(string path, string problem, Exception inner) => new($"{path}: {problem}", inner);
}
