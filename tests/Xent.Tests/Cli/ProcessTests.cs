using System.Diagnostics;
using System.Text.Json;

namespace Xent.Tests.Cli;

/// <summary>xent as a real process (`dotnet Xent.Cli.dll`): exit codes, stdout and stderr as a shell sees them.</summary>
public sealed class ProcessTests : IDisposable
{
    private readonly TempFolder dir = new();

    public void Dispose() => dir.Dispose();

    [Fact]
    public void Loss_Json_OnStdout()
    {
        var l = TestNpy.F32(dir["l.npy"], [0f, 0f, 0f, 0f, 1f, 2f, 3f, 4f], 2, 4);
        var t = TestNpy.I64(dir["t.npy"], [1L, 3L], 2);
        var (code, stdout, stderr) = Run("loss", "--logits", l, "--targets", t, "--json", "--grad", dir["g.npy"]);
        Assert.True(code == 0, stderr);
        var loss = JsonDocument.Parse(stdout).RootElement.GetProperty("loss").GetDouble();

        // Row 0 uniform over 4: ln 4. Row 1 [1, 2, 3, 4] target 3: lse - 4 = ln(1 + e^-1 + e^-2 + e^-3).
        double expected = (Math.Log(4) + Math.Log(1 + Math.Exp(-1) + Math.Exp(-2) + Math.Exp(-3))) / 2;
        Assert.Equal(expected, loss, 1e-6);
        Assert.Equal(new long[] { 2, 4 }, TestNpy.Read(dir["g.npy"]).Shape);
    }

    [Fact]
    public void BadInput_ExitCode2_MessageOnStderr_NoStackTrace()
    {
        var bad = dir["bad.npy"];
        File.WriteAllBytes(bad, TestNpy.File("{'descr': '>f8', 'fortran_order': False, 'shape': (2, 4), }", new byte[64]));
        var t = TestNpy.I64(dir["t.npy"], [1L, 3L], 2);
        var (code, stdout, stderr) = Run("loss", "--logits", bad, "--targets", t, "--grad", dir["g.npy"]);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Equal($"xent: error: {bad}: unsupported dtype '>f8': the array is big-endian; save it little-endian, e.g. a.astype('<f8').", stderr.Trim());
        Assert.False(File.Exists(dir["g.npy"]));

        var (parseCode, _, parseError) = Run("loss", "--logits");
        Assert.Equal(2, parseCode);
        Assert.DoesNotContain("   at ", parseError, StringComparison.Ordinal);
    }

    [Fact]
    public void NoVerb_HelpOnStderr_Exit2()
    {
        var (code, stdout, stderr) = Run();
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Contains("USAGE:", stderr, StringComparison.Ordinal);
        Assert.Contains("COMMANDS:", stderr, StringComparison.Ordinal);
        Assert.EndsWith("xent: error: no command given: name one of the COMMANDS above (xent COMMAND --help for its options).", stderr.Trim(), StringComparison.Ordinal);
    }

    [Fact]
    public void AnEnvironmentVariableOfXentWithAValueItDoesNotTake_IsBadInput_NamingIt_BeforeAnyOutput()
    {
        // Each threw in a static constructor: "internal error (TypeInitializationException) ... Please report this."
        var l = TestNpy.F32(dir["l.npy"], [0f, 1f, 2f, 3f], 1, 4);
        var t = TestNpy.I64(dir["t.npy"], [2L], 1);
        foreach (var (name, value, expected) in new[]
        {
            ("XENT_VECTOR_WIDTH", "64", "XENT_VECTOR_WIDTH='64' is not one of 512, 256, 128, scalar."),

            // Undocumented aliases: 0 forced the scalar path, where it reads as "no cap".
            ("XENT_VECTOR_WIDTH", "0", "XENT_VECTOR_WIDTH='0' is not one of 512, 256, 128, scalar."),
            ("XENT_VECTOR_WIDTH", "none", "XENT_VECTOR_WIDTH='none' is not one of 512, 256, 128, scalar."),
            ("XENT_VECTOR_WIDTH", "v256", "XENT_VECTOR_WIDTH='v256' is not one of 512, 256, 128, scalar."),
            ("XENT_L2_KB", "lots", "XENT_L2_KB='lots': expected an L2 cache size in KB, 64 to 65536."),
            ("XENT_STREAM_GRADIENT", "of", "XENT_STREAM_GRADIENT='of' is not one of auto, on (1), always, off (0)."),
        })
        {
            var (code, stdout, stderr) = RunWith([(name, value)], "loss", "--logits", l, "--targets", t, "--grad", dir["g.npy"]);
            Assert.Equal(2, code);
            Assert.Equal("", stdout);
            Assert.Equal($"xent: error: {expected}", stderr.Trim());
            Assert.False(File.Exists(dir["g.npy"]));
        }

        var (fine, output, error) = RunWith([("XENT_VECTOR_WIDTH", " scalar "), ("XENT_L2_KB", "512"), ("XENT_STREAM_GRADIENT", "AUTO")], "loss", "--logits", l, "--targets", t);
        Assert.True(fine == 0, error);
        Assert.StartsWith("loss: 1.4401", output, StringComparison.Ordinal);
    }

    [Fact]
    public void AnEnvironmentVariableOfXentWithAValueItDoesNotTake_IsRefusedBeforeAVerbPrepares()
    {
        // train found it at its first step: after the text was read, encoded and its baseline fitted, with the run
        // folder made and an empty metrics.jsonl left in it; bench after seconds of memory timing; eval after the text.
        (string, string)[] bad = [("XENT_VECTOR_WIDTH", "avx2")];
        string line = "xent: error: XENT_VECTOR_WIDTH='avx2' is not one of 512, 256, 128, scalar.";
        var run = dir["run"];
        var train = RunWith(bad, "train", "--steps", "2", "--seq", "16", "--batch", "2", "--dim", "16", "--layers", "1", "--heads", "2", "--out", run);
        Assert.Equal((2, "", line), (train.Code, train.Out, train.Error.Trim()));
        Assert.False(Directory.Exists(run), "no run folder");

        var bench = RunWith(bad, "bench", "--rows", "2", "--vocab", "8", "--iterations", "1");
        Assert.Equal((2, "", line), (bench.Code, bench.Out, bench.Error.Trim()));

        var trained = TrainCommandTests.Train(run, "--steps", "2");
        Assert.True(trained.ExitCode == 0, trained.Error);
        foreach (string[] verb in new[] { new[] { "eval", "--checkpoint", run, "--text", dir["missing.txt"] }, ["sample", "--checkpoint", run, "--tokens", "2"] })
        {
            var refused = RunWith(bad, verb);
            Assert.Equal((2, "", line), (refused.Code, refused.Out, refused.Error.Trim()));
        }
    }

    [Fact]
    public void XentWarmup_TakesOnAndOffInTheUsualWords_AndRefusesAnythingElseBeforeTrainPrepares()
    {
        // Only an exact "0" turned the warm-up off: " 0", "off" or "false" left it on without a word.
        foreach (string off in new[] { "0", " 0 ", "off", "OFF", "false", "no" })
        {
            Assert.False(Xent.Training.CompileWarmup.ParseSwitch(off), off);
        }

        foreach (string? on in new[] { null, "", "1", "on", "True", "yes" })
        {
            Assert.True(Xent.Training.CompileWarmup.ParseSwitch(on), on);
        }

        Assert.Null(Xent.Training.CompileWarmup.ParseSwitch("maybe"));
        var run = dir["run"];
        var train = RunWith([("XENT_WARMUP", "maybe")], "train", "--steps", "2", "--seq", "16", "--batch", "2", "--dim", "16", "--layers", "1", "--heads", "2", "--out", run);
        Assert.Equal((2, "", "xent: error: XENT_WARMUP='maybe' is not one of 1, 0 (on, off)."), (train.Code, train.Out, train.Error.Trim()));
        Assert.False(Directory.Exists(run), "no run folder");
    }

    [Fact]
    public void Bench_ThreadsAboveTheCoreCount_RunOnEveryCore_AndSaySo()
    {
        // The baselines once took the number as given (a part of the rows per asked thread, and as many memory-limit
        // parts): --threads 99999999 spent minutes dealing out empty parts before the first case was timed.
        // Its memory limits read and copy 128 MB buffers by every method (about 4 s of CPU time on 2 cores): a loaded CI
        // machine stretched that past the 60 s that catch a hung command (DOTNET_PROCESSOR_COUNT=8 on 2 cores, load
        // about 35). The regression itself (the count taken as given) shows in the threads the JSON reports.
        var (code, stdout, stderr) = RunWith([], BenchTimeoutSeconds, "bench", "--rows", "4", "--vocab", "8", "--iterations", "1", "--threads", "99999999", "--json");
        Assert.True(code == 0, stderr);
        int cores = Environment.ProcessorCount;
        Assert.Contains($"--threads 99999999 is more than this machine's {cores} cores; timing on {cores}", stderr, StringComparison.Ordinal);
        var root = JsonDocument.Parse(stdout).RootElement;
        foreach (string limit in new[] { "read_threads", "copy_threads", "in_place_threads" })
        {
            Assert.InRange(root.GetProperty(limit).GetInt32(), 1, cores);
        }

        foreach (var c in root.GetProperty("cases").EnumerateArray())
        {
            Assert.InRange(c.GetProperty("threads").GetInt32(), 1, cores);
        }
    }

    /// <summary>Xent.Cli.dll sits next to the test assembly (a project reference copies it with its runtimeconfig).</summary>
    private static string CliDll()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Xent.Cli.dll");
        Assert.True(File.Exists(dll) && File.Exists(Path.ChangeExtension(dll, ".runtimeconfig.json")), $"Xent.Cli.dll with its runtimeconfig not found in {AppContext.BaseDirectory}");
        return dll;
    }

    // What catches a hung command: a command of the tests' sizes takes a second or two of CPU time.
    private const int TimeoutSeconds = 60;

    // The same for a whole benchmark, whose warm-ups and timed runs take a few seconds of CPU time and wall-clock caps
    // of about 10 s more.
    private const int BenchTimeoutSeconds = 300;

    private static (int Code, string Out, string Error) Run(params string[] args) => RunWith([], args);

    private static (int Code, string Out, string Error) RunWith((string Name, string Value)[] environment, params string[] args) =>
        RunWith(environment, TimeoutSeconds, args);

    private static (int Code, string Out, string Error) RunWith((string Name, string Value)[] environment, int timeoutSeconds, params string[] args)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        start.ArgumentList.Add(CliDll());
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeoutSeconds * 1000))
        {
            // Left running, a hung xent would outlive the test and load the machine for the rest of the suite.
            process.Kill(entireProcessTree: true);
            Assert.Fail($"xent {string.Join(' ', args)} did not finish within {timeoutSeconds} s");
        }

        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}
