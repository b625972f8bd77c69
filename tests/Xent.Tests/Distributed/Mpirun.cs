using System.Diagnostics;

namespace Xent.Tests.Distributed;

/// <summary>Runs the MPI check program (tests/Xent.Distributed.MpiCheck, copied next to the tests) under mpirun.</summary>
internal static class Mpirun
{
    public static string? Path { get; } = (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        .Select(d => System.IO.Path.Combine(d, "mpirun"))
        .FirstOrDefault(File.Exists);

    /// <summary>mpirun -np K dotnet Xent.Distributed.MpiCheck.dll args...: exit code, stdout, stderr, seconds.</summary>
    public static (int Code, string Out, string Error, double Seconds) Run(int ranks, int timeoutSeconds, params string[] args) =>
        RunProgram("Xent.Distributed.MpiCheck.dll", ranks, timeoutSeconds, args);

    /// <summary>mpirun -np K dotnet PROGRAM args..., PROGRAM a dll next to the tests (Xent.Cli.dll is): exit code, stdout, stderr, seconds.</summary>
    public static (int Code, string Out, string Error, double Seconds) RunProgram(string program, int ranks, int timeoutSeconds, params string[] args)
    {
        var dll = System.IO.Path.Combine(AppContext.BaseDirectory, program);
        Assert.True(File.Exists(dll), $"{dll} not found");
        var start = new ProcessStartInfo(Path!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };

        // As root (containers, CI) mpirun needs the first flag; more ranks than cores need the second.
        foreach (var a in new[] { "--allow-run-as-root", "--oversubscribe", "-np", ranks.ToString(System.Globalization.CultureInfo.InvariantCulture),
            Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet", dll })
        {
            start.ArgumentList.Add(a);
        }

        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        // The test host's own variables must not make the ranks think they are something else.
        start.Environment.Remove("OMPI_COMM_WORLD_SIZE");
        start.Environment.Remove("PMIX_RANK");
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeoutSeconds * 1000))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"mpirun -np {ranks} {string.Join(' ', args)} did not finish within {timeoutSeconds} s");
        }

        return (process.ExitCode, stdout.Result, stderr.Result, clock.Elapsed.TotalSeconds);
    }
}
