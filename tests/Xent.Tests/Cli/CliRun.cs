using Xent.Cli;
using Xent.Cli.Terminal;

namespace Xent.Tests.Cli;

/// <summary>Runs the xent app in-process with captured standard output and error.</summary>
internal sealed record CliRun(int ExitCode, string Out, string Error)
{
    public static CliRun Run(params string[] args) => Run(CancellationToken.None, args);

    /// <summary>Runs with <paramref name="cancellationToken"/> as the verb's token (what a host embedding the app would cancel).</summary>
    public static CliRun Run(CancellationToken cancellationToken, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = XentApp.Create(CliConsoles.Plain(stdout, stderr)).Run(args, cancellationToken);
        return new CliRun(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Asserts the bad-input contract: exit 2, one message on stderr naming <paramref name="file"/> and <paramref name="problem"/>, no stack trace.</summary>
    public void AssertBadInput(string file, string problem)
    {
        Assert.True(ExitCode == 2, $"exit code {ExitCode}; stderr: {Error}; stdout: {Out}");
        Assert.Contains(file, Error, StringComparison.Ordinal);
        Assert.Contains(problem, Error, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(" at Xent", Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", Error, StringComparison.Ordinal);
        Assert.Single(Error.Trim().Split('\n'));
    }
}

/// <summary>A fresh folder per test, deleted afterwards.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "xent-cli-tests", Guid.NewGuid().ToString("N"));

    public string this[string name] => System.IO.Path.Combine(Path, name);

    public string[] Files() => Directory.GetFiles(Path).Select(System.IO.Path.GetFileName).ToArray()!;

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
