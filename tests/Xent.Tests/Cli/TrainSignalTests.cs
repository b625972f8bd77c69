using System.Diagnostics;
using System.Globalization;
using System.Text;
using Xent.Cli.Terminal;
using Xent.Training.Checkpoints;
using Xent.Training.Runs;

namespace Xent.Tests.Cli;

/// <summary>
/// Signals to `xent train` in a real process: SIGTERM and SIGHUP stop a run as Ctrl+C does (after the current step,
/// with a checkpoint), and a signal while the run is still being prepared ends it with a message and the folder as it was.
/// </summary>
public sealed class TrainSignalTests : IDisposable
{
    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public async Task Sigterm_stops_after_the_current_step_and_keeps_a_checkpoint()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        string dir = temp["run"];
        using var xent = Xent(["train", "--out", dir, "--steps", "1000000", "--eval-every", "1000000", .. TrainCommandTests.Tiny]);
        string metrics = Path.Combine(dir, MetricsLog.FileName);
        await xent.Until(() => File.Exists(metrics) && new FileInfo(metrics).Length > 300);
        await xent.Send("TERM");

        Assert.Equal(ExitCodes.Terminated, xent.Process.ExitCode);
        Assert.Contains("Stopped by SIGTERM at step", xent.Out, StringComparison.Ordinal);
        Assert.Equal(MetricsLog.Read(metrics)[^1].Step, CheckpointStore.LoadConfig(dir).Step);
    }

    [Fact]
    public async Task A_signal_while_the_run_is_prepared_ends_it_with_a_message_and_writes_nothing()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        string text = temp["t.txt"];
        File.WriteAllText(text, string.Concat(Enumerable.Repeat("the quick brown fox jumps over the lazy dog. ", 40)));
        string dir = Path.Combine(temp["new"], "run");

        // An hour's budget times its steps for a few seconds before anything is written.
        using var xent = Xent(["train", "--out", dir, "--text", text, "--time", "1h", .. TrainCommandTests.Tiny]);
        await xent.Until(() => xent.Error.Contains("xent train: timing steps", StringComparison.Ordinal));
        await xent.Send("INT");

        Assert.Equal(ExitCodes.Interrupted, xent.Process.ExitCode);
        Assert.Contains("xent: interrupted (SIGINT) while the run was prepared; nothing was written.", xent.Error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(temp["new"]), "the folders the run created are gone again");
    }

    [Fact]
    public async Task Sighup_stops_after_the_current_step_and_keeps_a_checkpoint_the_next_run_resumes()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        // A closed terminal or a dropped ssh session (SIGHUP) saves the run as SIGTERM does (docs/training.md).
        string dir = temp["run"];
        string metrics = Path.Combine(dir, MetricsLog.FileName);
        using (var xent = Xent(["train", "--out", dir, "--steps", "1000000", "--eval-every", "1000000", .. TrainCommandTests.Tiny]))
        {
            await xent.Until(() => File.Exists(metrics) && new FileInfo(metrics).Length > 300);
            await xent.Send("HUP");
            Assert.Equal(ExitCodes.HungUp, xent.Process.ExitCode);
            Assert.Contains("Stopped by SIGHUP at step", xent.Out, StringComparison.Ordinal);
        }

        long saved = CheckpointStore.LoadConfig(dir).Step;
        Assert.Equal(MetricsLog.Read(metrics)[^1].Step, saved);
        var resumed = CliRun.Run(["train", "--resume", dir, "--steps", (saved + 2).ToString(CultureInfo.InvariantCulture), .. TrainCommandTests.Tiny]);
        Assert.True(resumed.ExitCode == ExitCodes.Ok, resumed.Error);
        Assert.Equal(Enumerable.Range(1, (int)saved + 2).Select(i => (long)i), MetricsLog.Read(metrics).Select(r => r.Step));
    }

    [Fact]
    public async Task Ctrl_c_before_the_first_checkpoint_of_a_resume_into_another_folder_saves_one_there()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        // The copy of the run up to its checkpoint is made once training has begun, so Ctrl+C there (or in the first
        // steps) stops the run with a checkpoint of its own in the new folder, not with the copies alone.
        string from = temp["from"], into = temp["into"];
        Assert.Equal(0, TrainCommandTests.Train(from, "--steps", "2", "--eval-every", "2").ExitCode);
        string metrics = Path.Combine(into, MetricsLog.FileName);
        using (var xent = Xent(["train", "--resume", from, "--out", into, "--steps", "1000000", "--eval-every", "1000000"]))
        {
            await xent.Until(() => File.Exists(metrics) && new FileInfo(metrics).Length > 1000);
            await xent.Send("INT");
            Assert.True(xent.Process.ExitCode == ExitCodes.Interrupted, $"exit {xent.Process.ExitCode}\nstderr:\n{xent.Error}");
        }

        long saved = CheckpointStore.LoadConfig(into).Step;
        Assert.True(saved > 2, $"saved step {saved}");
        Assert.Equal(MetricsLog.Read(metrics)[^1].Step, saved);
        var resumed = CliRun.Run("train", "--resume", into, "--steps", $"{saved + 1}");
        Assert.True(resumed.ExitCode == 0, resumed.Error);
    }

    [Fact]
    public async Task A_hang_up_whose_terminal_is_gone_still_saves_and_exits_129()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        // A real hang-up: standard output a terminal whose other end has gone, every write to it failing (EIO) from then
        // on. The lines printed after SIGHUP failed, and the run ended with exit 2 ("cannot write to standard output").
        using var terminal = PseudoTerminal.Open();
        string dir = temp["run"];
        string metrics = Path.Combine(dir, MetricsLog.FileName);
        using (var xent = new XentProcess(["train", "--out", dir, "--steps", "1000000", "--eval-every", "1000000", .. TrainCommandTests.Tiny], terminal.Path))
        {
            await xent.Until(() => File.Exists(metrics) && new FileInfo(metrics).Length > 300);
            terminal.Close();

            // Lines written between the hang-up and the signal fail too (in life the two come together).
            await Task.Delay(500);
            await xent.Send("HUP");
            Assert.True(xent.Process.ExitCode == ExitCodes.HungUp, $"exit {xent.Process.ExitCode}\nstderr:\n{xent.Error}");
        }

        Assert.Equal(MetricsLog.Read(metrics)[^1].Step, CheckpointStore.LoadConfig(dir).Step);
    }

    private static XentProcess Xent(string[] args) => new(args);

    /// <summary>xent in a process of its own, its output collected as it comes.</summary>
    private sealed class XentProcess : IDisposable
    {
        private readonly StringBuilder output = new();
        private readonly StringBuilder error = new();

        /// <param name="args">xent's arguments.</param>
        /// <param name="stdout">A file (a terminal) for its standard output; null to collect it.</param>
        public XentProcess(string[] args, string? stdout = null)
        {
            string cli = Path.Combine(AppContext.BaseDirectory, "Xent.Cli.dll");
            string[] command = stdout is null
                ? ["dotnet", cli, .. args]
                : ["sh", "-c", "exec \"$@\" > \"$0\"", stdout, "dotnet", cli, .. args];

            // A shell running the tests in the background leaves SIGINT ignored for its children (see TrainInterruptTests),
            // and nohup SIGHUP: both back to their default, as a terminal's job has them.
            var psi = new ProcessStartInfo("env")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (string arg in (string[])["--default-signal=INT,HUP", .. command])
            {
                psi.ArgumentList.Add(arg);
            }

            Process = Process.Start(psi)!;
            Process.OutputDataReceived += (_, e) => Append(output, e.Data);
            Process.ErrorDataReceived += (_, e) => Append(error, e.Data);
            Process.BeginOutputReadLine();
            Process.BeginErrorReadLine();
        }

        public Process Process { get; }

        public string Out
        {
            get
            {
                lock (output)
                {
                    return output.ToString();
                }
            }
        }

        public string Error
        {
            get
            {
                lock (error)
                {
                    return error.ToString();
                }
            }
        }

        /// <summary>Waits (60 s at most) until <paramref name="ready"/> holds while the process runs.</summary>
        public async Task Until(Func<bool> ready)
        {
            var clock = Stopwatch.StartNew();
            while (!ready() && !Process.HasExited && clock.Elapsed < TimeSpan.FromSeconds(60))
            {
                await Task.Delay(50);
            }

            Assert.False(Process.HasExited, $"xent ended before the signal.\nstdout:\n{Out}\nstderr:\n{Error}");
            Assert.True(ready(), $"xent never got there in 60 s.\nstdout:\n{Out}\nstderr:\n{Error}");
        }

        /// <summary>Sends the signal and waits (60 s at most) for the process to end.</summary>
        public async Task Send(string signal)
        {
            using (var kill = Process.Start("kill", [$"-{signal}", Process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await Process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"xent did not end within 60 s of SIG{signal}.\nstdout:\n{Out}\nstderr:\n{Error}");
            }
        }

        public void Dispose()
        {
            if (!Process.HasExited)
            {
                Process.Kill();
            }

            Process.Dispose();
        }

        private static void Append(StringBuilder to, string? line)
        {
            if (line is not null)
            {
                lock (to)
                {
                    to.AppendLine(line);
                }
            }
        }
    }
}
