using System.Diagnostics;
using Xent.Cli.Terminal;

namespace Xent.Tests.Cli;

/// <summary>
/// xent as a process whose standard output or error fails to take writes: a closed descriptor (<c>2&gt;&amp;-</c>) or
/// a full disk (<c>&gt; /dev/full</c>), as a shell sets them up.
/// </summary>
public sealed class StandardStreamTests : IDisposable
{
    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    [Theory]
    [InlineData("2>/dev/full")]
    [InlineData("2>&-")]
    public void An_unwritable_standard_error_keeps_the_exit_code_of_an_error(string redirect)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        // The error line's own write failed, escaped the handler and aborted the process: exit 134 (SIGABRT).
        var (code, stdout, _) = Shell(redirect, "sample", "--checkpoint", temp["missing"]);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Equal("", stdout);
    }

    [Fact]
    public void An_unwritable_standard_error_does_not_stop_a_run_that_warns()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        // The warning that the warm-up lasts the whole run could not be written, and the run was aborted (exit 134).
        string dir = temp["run"];
        var (code, stdout, _) = Shell("2>/dev/full", ["train", "--out", dir, "--steps", "3", "--warmup", "3", .. TrainCommandTests.Tiny]);
        Assert.True(code == ExitCodes.Ok, $"exit code {code}; stdout: {stdout}");
        Assert.Contains("Wrote model.safetensors", stdout, StringComparison.Ordinal);
        Assert.Equal(3, Xent.Training.Checkpoints.CheckpointStore.LoadConfig(dir).Step);
    }

    /// <summary>Runs `dotnet Xent.Cli.dll ARGS REDIRECT` under sh, the shell applying <paramref name="redirect"/>.</summary>
    private static (int Code, string Out, string Error) Shell(string redirect, params string[] args)
    {
        var start = new ProcessStartInfo("sh")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        foreach (string a in (string[])["-c", $"exec \"$0\" \"$@\" {redirect}", dotnet, Path.Combine(AppContext.BaseDirectory, "Xent.Cli.dll"), .. args])
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(60_000))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"xent {string.Join(' ', args)} {redirect} did not finish within 60 s");
        }

        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}
