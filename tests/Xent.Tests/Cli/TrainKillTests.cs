using System.Diagnostics;
using System.Text.Json;
using Xent.Training.Checkpoints;
using Xent.Training.Runs;

namespace Xent.Tests.Cli;

/// <summary>
/// `xent train` as a real process killed with SIGKILL at several moments (before the first step, between
/// checkpoints, during a resume), then resumed until done: the run ends with the same bits as an uninterrupted
/// one, metrics.jsonl lists every step once, summary.json reports the whole run, and nothing is left behind.
/// A second run into a folder in use is refused, naming the holder.
/// </summary>
public sealed class TrainKillTests : IDisposable
{
    private const int Steps = 80;
    private const int Attempts = 5;
    private static readonly string[] Args =
        ["--steps", "80", "--eval-every", "6", "--batch", "4", "--seq", "32", "--layers", "2", "--dim", "32", "--heads", "2", "--threads", "1"];

    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public void Killed_and_resumed_runs_end_with_the_bits_of_an_uninterrupted_one()
    {
        string whole = temp["whole"];
        var reference = CliRun.Run(["train", "--out", whole, .. Args]);
        Assert.True(reference.ExitCode == 0, reference.Error);

        // A kill races the run it kills: a step of this model takes well under a millisecond, and on a loaded 2-core
        // machine the thread watching metrics.jsonl went unscheduled for up to 30 steps past its mark, so a segment
        // could train on to the run's end before its kill (with 40 steps, the last one mostly did). 80 steps leave the
        // last kill 53 steps; a try with fewer than three kills still proves less, so it is made again in a new folder.
        // Of those kills, two must be of resumed runs: the kill after the first one used to come before the first
        // checkpoint, so that only the last segment was a resume.
        string killed = "";
        var (kills, resumes) = (0, 0);
        for (int attempt = 1; attempt <= Attempts && (kills < 3 || resumes < 2); attempt++)
        {
            killed = temp[$"killed-{attempt}"];
            (kills, resumes) = KillAndResume(killed);
        }

        Assert.True(kills >= 3, $"in each of {Attempts} tries, only {kills} of the runs were still going when killed");
        Assert.True(resumes >= 2, $"in each of {Attempts} tries, only {resumes} of the runs killed were resumed from a checkpoint");

        // The try's last segment may have been the resume that finished the run (its kill came after the end).
        if (CheckpointStore.LoadConfig(killed).Step < Steps)
        {
            var last = CliRun.Run("train", "--resume", killed);
            Assert.True(last.ExitCode == 0, last.Error);
        }

        var (expected, _) = SafeTensorsReader.ReadFile(Path.Combine(whole, CheckpointStore.ModelFile));
        var (actual, _) = SafeTensorsReader.ReadFile(Path.Combine(killed, CheckpointStore.ModelFile));
        Assert.Equal(expected.Select(t => t.Name), actual.Select(t => t.Name));
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.True(expected[i].Data.AsSpan().SequenceEqual(actual[i].Data), $"tensor {expected[i].Name} differs");
        }

        Assert.Equal(Enumerable.Range(1, Steps).Select(i => (long)i), MetricsLog.Read(Path.Combine(killed, MetricsLog.FileName)).Select(r => r.Step));
        double first = Summary(whole).GetProperty("initial_val_loss").GetDouble();
        Assert.Equal(first, Summary(killed).GetProperty("initial_val_loss").GetDouble());
        Assert.Equal(Summary(whole).GetProperty("final_val_loss").GetDouble(), Summary(killed).GetProperty("final_val_loss").GetDouble());
        Assert.Equal(Summary(whole).GetProperty("tokens_trained").GetInt64(), Summary(killed).GetProperty("tokens_trained").GetInt64());
        Assert.DoesNotContain(Directory.GetFiles(killed), f => TemporaryFiles.IsTemporary(Path.GetFileName(f)));
    }

    [Fact]
    public void A_second_run_into_a_folder_in_use_is_refused_naming_the_holder()
    {
        string dir = temp["busy"];
        using var holder = Start(["train", "--out", dir, .. Args, "--steps", "100000"]);
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!CheckpointStore.Exists(dir) && DateTime.UtcNow < deadline && !holder.HasExited)
            {
                Thread.Sleep(20);
            }

            Assert.False(holder.HasExited, "the first run ended early");

            var second = CliRun.Run(["train", "--out", dir, .. Args]);
            second.AssertBadInput(dir, $"is in use by another run (pid {holder.Id} on host {Environment.MachineName}");
            var resume = CliRun.Run("train", "--resume", dir, "--steps", "200000");
            resume.AssertBadInput(dir, "is in use by another run");
        }
        finally
        {
            holder.Kill(entireProcessTree: true);
            holder.WaitForExit();
        }

        // The killed holder's lock died with it.
        var after = CliRun.Run("train", "--resume", dir, "--steps", $"{CheckpointStore.LoadConfig(dir).Step + 1}");
        Assert.True(after.ExitCode == 0, after.Error);
    }

    // Killed while the corpus is generated (no checkpoint yet); then once the first checkpoint is saved (step 6, so
    // that the next runs resume: killed at 3 steps, before it, the next run started afresh), then after several steps
    // of each resumed segment. How many of these four runs were still going when killed, and how many of those resumed.
    private static (int Kills, int Resumes) KillAndResume(string killed)
    {
        var (kills, resumes) = (0, 0);
        foreach (int metricLines in new[] { -1, 3, 14, 27 })
        {
            bool resume = CheckpointStore.Exists(killed);
            string[] args = resume ? ["train", "--resume", killed] : ["train", "--out", killed, .. Args];

            // Lines the last kill left past its checkpoint are in the log until the resume cuts them: not its progress.
            int lines = Math.Max(metricLines, Lines(killed) + 1);
            if (KillWhen(args, () => metricLines < 0 || (CheckpointStore.Exists(killed) && Lines(killed) >= lines)))
            {
                kills++;
                resumes += resume ? 1 : 0;
            }
        }

        return (kills, resumes);
    }

    /// <summary>Starts xent with <paramref name="args"/> and kills it (SIGKILL) once <paramref name="when"/> holds; false if it had ended first.</summary>
    internal static bool KillWhen(string[] args, Func<bool> when)
    {
        using var process = Start(args);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!when() && !process.HasExited && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(5);
        }

        bool running = !process.HasExited;
        if (running)
        {
            process.Kill(entireProcessTree: true);
        }

        process.WaitForExit();
        return running;
    }

    private static Process Start(string[] args)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Xent.Cli.dll"));
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }

        var process = Process.Start(start)!;

        // Drained so a full pipe never blocks the child.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static int Lines(string dir)
    {
        string path = Path.Combine(dir, MetricsLog.FileName);
        try
        {
            return File.Exists(path) ? MetricsLog.Read(path).Count : 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static JsonElement Summary(string dir) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, RunSummary.FileName))).RootElement;
}
