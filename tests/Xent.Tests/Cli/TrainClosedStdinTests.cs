using System.Diagnostics;
using Xent.Cli.Terminal;

namespace Xent.Tests.Cli;

/// <summary>
/// `xent train --text /dev/stdin` started with standard input closed (`&lt;&amp;-`): the runtime takes descriptor 0 for a
/// pipe of its own, which nothing ever writes to, so reading it would wait forever; the run is refused at once instead.
/// </summary>
public sealed class TrainClosedStdinTests : IDisposable
{
    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public async Task Text_from_a_closed_standard_input_is_refused_at_once()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        string cli = Path.Combine(AppContext.BaseDirectory, "Xent.Cli.dll");
        var psi = new ProcessStartInfo("/bin/sh", ["-c", "exec dotnet \"$0\" train --text /dev/stdin --out \"$1\" <&-", cli, temp["run"]])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var xent = Process.Start(psi)!;
        Task<string> error = xent.StandardError.ReadToEndAsync();
        _ = xent.StandardOutput.ReadToEndAsync();
        bool ended = xent.WaitForExit(TimeSpan.FromSeconds(60));
        if (!ended)
        {
            xent.Kill();
        }

        Assert.True(ended, "xent waited on a closed standard input");
        Assert.Equal(ExitCodes.BadInput, xent.ExitCode);
        Assert.Contains("standard input is closed", await error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(temp["run"]), "nothing was written");
    }
}
