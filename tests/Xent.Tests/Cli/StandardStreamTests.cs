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

    [Theory]
    [InlineData(">/dev/full", "the disk is full")]
    [InlineData(">&-", "it is closed or not open for writing")]
    public void An_unwritable_standard_output_is_an_error_naming_it(string redirect, string problem)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        // .NET's bare "No space left on device" (or "Access to the path is denied.") named no file.
        string dir = temp["run"];
        var (trained, _, error) = Shell(">/dev/null", ["train", "--out", dir, "--steps", "2", .. TrainCommandTests.Tiny]);
        Assert.True(trained == ExitCodes.Ok, error);
        var (code, stdout, stderr) = Shell(redirect, "sample", "--checkpoint", dir, "--tokens", "5");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Equal("", stdout);
        Assert.Equal($"xent: error: cannot write to standard output: {problem}.", stderr.Trim());
    }

    [Fact]
    public void A_run_whose_standard_output_fails_stops_with_its_checkpoint_and_says_how_to_go_on()
    {
        string dir = temp["run"];
        var stderr = new StringWriter();
        var stdout = new StandardStreamWriter(new FullAt("step 10/"), diagnostics: false);
        int code = Xent.Cli.XentApp.Create(CliConsoles.Plain(stdout, stderr))
            .Run(["train", "--out", dir, "--steps", "20", "--eval-every", "5", .. TrainCommandTests.Tiny]);

        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Equal(
            $"xent: error: cannot write to standard output: the disk is full. The run stopped at step 10, its checkpoint saved in '{dir}'. Continue with: xent train --resume {dir}",
            stderr.ToString().Trim());
        Assert.Equal(10, Xent.Training.Checkpoints.CheckpointStore.LoadConfig(dir).Step);

        var resumed = CliRun.Run(["train", "--resume", dir, "--steps", "20", "--eval-every", "5", .. TrainCommandTests.Tiny]);
        Assert.True(resumed.ExitCode == ExitCodes.Ok, resumed.Error);
        Assert.Equal(20, Xent.Training.Checkpoints.CheckpointStore.LoadConfig(dir).Step);
    }

    [Fact]
    public void A_run_whose_header_cannot_be_printed_waits_for_its_compile_warm_up_before_it_returns()
    {
        // The warm-up started with the loop was never waited for: its work went on running after the command had
        // failed, beside whatever the process did next. Made to last half a second here, so its end shows.
        string dir = temp["run"];
        var stderr = new StringWriter();
        var stdout = new StandardStreamWriter(new FullAt("Corpus:"), diagnostics: false);
        Task? warmup = null;
        int code;
        using (Xent.Training.CompileWarmup.OverrideAvailableBytes(1L << 40))
        using (Xent.Training.CompileWarmup.Override(true))
        using (Xent.Training.CompileWarmup.Watch(started => warmup = Slow(started)))
        {
            code = Xent.Cli.XentApp.Create(CliConsoles.Plain(stdout, stderr)).Run(["train", "--out", dir, "--steps", "4", .. TrainCommandTests.Tiny]);
        }

        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Equal("xent: error: cannot write to standard output: the disk is full.", stderr.ToString().Trim());
        Assert.NotNull(warmup);
        Assert.True(warmup.IsCompleted, "the command returned with its compile warm-up still running");
        Assert.False(Directory.Exists(dir));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_loss_whose_standard_output_fails_after_its_files_says_they_were_written_whole(bool json)
    {
        // Exit 2 and "cannot write to standard output" alone read as if nothing was written, though --grad and
        // --losses were already renamed into place, whole.
        string l = TestNpy.F32(temp["l.npy"], [0f, 1f, 2f, 3f], 1, 4);
        string t = TestNpy.I64(temp["t.npy"], [2L], 1);
        string grad = temp["g.npy"];
        string losses = temp["r.npy"];
        var stderr = new StringWriter();
        var stdout = new StandardStreamWriter(new FullAt(json ? "{" : "loss: "), diagnostics: false);
        string[] args = ["loss", "--logits", l, "--targets", t, "--grad", grad, "--losses", losses, .. json ? (string[])["--json"] : []];
        int code = Xent.Cli.XentApp.Create(CliConsoles.Plain(stdout, stderr)).Run(args);

        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Equal(
            $"xent: error: cannot write to standard output: the disk is full. --grad {grad} and --losses {losses} were written whole; only the summary is lost.",
            stderr.ToString().Trim());
        var whole = CliRun.Run(["loss", "--logits", l, "--targets", t, "--grad", temp["g2.npy"], "--losses", temp["r2.npy"]]);
        Assert.True(whole.ExitCode == 0, whole.Error);
        Assert.Equal(File.ReadAllBytes(temp["g2.npy"]), File.ReadAllBytes(grad));
        Assert.Equal(File.ReadAllBytes(temp["r2.npy"]), File.ReadAllBytes(losses));

        // Without an output file, there is nothing more to say.
        var bare = new StringWriter();
        Assert.Equal(ExitCodes.BadInput, Xent.Cli.XentApp.Create(CliConsoles.Plain(new StandardStreamWriter(new FullAt("loss: "), diagnostics: false), bare))
            .Run(["loss", "--logits", l, "--targets", t]));
        Assert.Equal("xent: error: cannot write to standard output: the disk is full.", bare.ToString().Trim());
    }

    // A warm-up made to end half a second after its work, so that a caller which did not wait for it shows.
    private static Task Slow(Task warmup) => Task.WhenAll(warmup, Task.Delay(500));

    /// <summary>A standard output on a disk that fills up when <paramref name="marker"/> is written (ENOSPC, as .NET throws it).</summary>
    private sealed class FullAt(string marker) : StringWriter
    {
        public override void WriteLine(string? value)
        {
            if (value?.Contains(marker, StringComparison.Ordinal) == true)
            {
                throw new IOException("No space left on device", 28);
            }

            base.WriteLine(value);
        }
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
