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
    public static (int Code, string Out, string Error, double Seconds) RunProgram(string program, int ranks, int timeoutSeconds, params string[] args) =>
        RunRanks(program, timeoutSeconds, [.. Enumerable.Repeat(args, ranks)]);

    /// <summary>
    /// mpirun -np 1 dotnet PROGRAM args[0] : -np 1 dotnet PROGRAM args[1] : ...: one rank per argument list (mpirun's
    /// MPMD form), so that ranks can be given different input, as on machines that do not share a folder.
    /// </summary>
    public static (int Code, string Out, string Error, double Seconds) RunRanks(string program, int timeoutSeconds, params string[][] rankArgs)
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
        start.ArgumentList.Add("--allow-run-as-root");
        start.ArgumentList.Add("--oversubscribe");
        bool identical = rankArgs.All(a => a.SequenceEqual(rankArgs[0]));
        foreach (var (args, i) in (identical ? rankArgs.Take(1) : rankArgs).Select((a, i) => (a, i)))
        {
            if (i > 0)
            {
                start.ArgumentList.Add(":");
            }

            start.ArgumentList.Add("-np");
            start.ArgumentList.Add((identical ? rankArgs.Length : 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
            start.ArgumentList.Add(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet");
            start.ArgumentList.Add(dll);
            foreach (var a in args)
            {
                start.ArgumentList.Add(a);
            }
        }

        string args0 = string.Join(' ', rankArgs[0]);

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
            Assert.Fail($"mpirun ({rankArgs.Length} ranks) {args0} did not finish within {timeoutSeconds} s");
        }

        return (process.ExitCode, stdout.Result, stderr.Result, clock.Elapsed.TotalSeconds);
    }
}
