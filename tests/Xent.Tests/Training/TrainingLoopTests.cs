using System.Diagnostics;
using Xent.Cli.Commands;
using Xent.Cli.Training;
using Xent.Tests.Cli;
using Xent.Training.Checkpoints;

namespace Xent.Tests.Training;

public sealed class TrainingLoopTests : IDisposable
{
    private readonly TempFolder _tmp = new();

    public void Dispose() => _tmp.Dispose();

    private static TrainSettings Tiny(string outDir, int steps) => new()
    {
        Out = outDir,
        Steps = steps,
        Batch = 2,
        Seq = 16,
        Layers = 1,
        Dim = 16,
        Heads = 2,
        EvalEvery = 100,
    };

    private static TrainingOutcome Run(TrainingPlan plan, Func<bool> stop)
    {
        Directory.CreateDirectory(plan.OutDir);
        using var metrics = MetricsLog.Open(plan.OutDir, plan.Resume?.Checkpoint.Config.Step ?? 0);
        return new TrainingLoop(plan, stop).Run(metrics, _ => { });
    }

    [Fact]
    public void Stopped_and_resumed_run_ends_bitwise_equal_to_an_uninterrupted_one()
    {
        string whole = _tmp["whole"], split = _tmp["split"];
        var a = Run(TrainingPlan.From(Tiny(whole, 6)), () => false);
        Assert.Equal(TrainingStatus.Completed, a.Status);

        int calls = 0;
        var b = Run(TrainingPlan.From(Tiny(split, 6)), () => calls++ >= 3);
        Assert.Equal(TrainingStatus.Interrupted, b.Status);
        Assert.Equal(3, b.FinalStep);
        Assert.Equal(3, b.CheckpointStep);

        var c = Run(TrainingPlan.From(new TrainSettings { Resume = split, EvalEvery = 100 }), () => false);
        Assert.Equal(TrainingStatus.Completed, c.Status);
        Assert.Equal(3, c.StartStep);
        Assert.Equal(6, c.FinalStep);

        // Same weights, same AdamW moments and step: the resumed run replays the same batches and schedule.
        var (wa, ma) = SafeTensorsReader.ReadFile(Path.Combine(whole, CheckpointStore.ModelFile));
        var (wc, mc) = SafeTensorsReader.ReadFile(Path.Combine(split, CheckpointStore.ModelFile));
        Assert.Equal(wa.Select(t => t.Name), wc.Select(t => t.Name));
        for (int i = 0; i < wa.Count; i++)
            Assert.True(wa[i].Data.AsSpan().SequenceEqual(wc[i].Data), wa[i].Name);
        Assert.Equal(ma["adamw.step"], mc["adamw.step"]);
        Assert.Equal(a.FinalValLoss, c.FinalValLoss);
        Assert.Equal(Enumerable.Range(1, 6).Select(i => (long)i), MetricsLog.Read(Path.Combine(split, MetricsLog.FileName)).Select(r => r.Step));
    }

    [Fact]
    public async Task Ctrl_C_stops_after_the_current_step_and_keeps_a_checkpoint()
    {
        if (!OperatingSystem.IsLinux())
            return;
        string dir = _tmp["run"];
        string cli = Path.Combine(AppContext.BaseDirectory, "Xent.Cli.dll");
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in (string[])[cli, "train", "--out", dir, "--steps", "1000000", "--eval-every", "1000000", .. TrainCommandTests.Tiny])
            psi.ArgumentList.Add(arg);
        using var process = Process.Start(psi)!;
        try
        {
            await StopWithSigint(process, dir);
        }
        finally
        {
            if (!process.HasExited)
                process.Kill();
        }
    }

    private static async Task StopWithSigint(Process process, string dir)
    {
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        string metrics = Path.Combine(dir, MetricsLog.FileName);
        var clock = Stopwatch.StartNew();
        while (!(File.Exists(metrics) && new FileInfo(metrics).Length > 300) && clock.Elapsed < TimeSpan.FromSeconds(60) && !process.HasExited)
            await Task.Delay(50);
        Assert.False(process.HasExited, "the run ended before it could be interrupted");
        // SIGINT, as Ctrl+C sends.
        using (var kill = Process.Start("kill", ["-INT", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            await kill.WaitForExitAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);

        Assert.Equal(Xent.Cli.Terminal.ExitCodes.Interrupted, process.ExitCode);
        Assert.Contains("Interrupted at step", await stdout, StringComparison.Ordinal);
        Assert.Equal("", await stderr);
        long last = MetricsLog.Read(metrics)[^1].Step;
        Assert.Equal(last, CheckpointStore.LoadConfig(dir).Step);
        Assert.True(File.Exists(Path.Combine(dir, "summary.json")));
    }
}
