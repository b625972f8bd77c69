using System.Text.Json;
using Xent.Training.Checkpoints;
using Xent.Training.Runs;

namespace Xent.Tests.Cli;

/// <summary>The best checkpoint kept beside the last, read by eval and sample by default, and --early-stop.</summary>
public sealed class BestCheckpointTests : IDisposable
{
    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    private static JsonElement Json(string path) => JsonDocument.Parse(File.ReadAllText(path)).RootElement;

    [Fact]
    public void The_lowest_validation_loss_is_kept_and_eval_reads_it_unless_asked_for_the_last()
    {
        string dir = temp["run"];
        var run = TrainCommandTests.Train(dir, "--steps", "12", "--eval-every", "3", "--lr", "0.05");
        Assert.True(run.ExitCode == 0, run.Error + run.Out);
        var summary = Json(Path.Combine(dir, "summary.json"));
        var vals = MetricsLog.Read(Path.Combine(dir, "metrics.jsonl")).Where(r => r.ValLoss is not null).ToList();
        var lowest = vals.MinBy(r => r.ValLoss!.Value)!;
        Assert.Equal(lowest.Step, summary.GetProperty("best_step").GetInt64());
        Assert.Equal(lowest.ValLoss!.Value, summary.GetProperty("best_val_loss").GetDouble());
        Assert.Equal((lowest.Step, lowest.ValLoss.Value), BestCheckpoint.Read(dir));
        Assert.Equal(lowest.Step, CheckpointStore.LoadConfig(Path.Combine(dir, "best")).Step);
        Assert.Equal(12, CheckpointStore.LoadConfig(dir).Step);

        string text = temp["held.txt"];
        File.WriteAllText(text, "abcabcabcabc0123" + new string('a', 40));
        var best = CliRun.Run("eval", "--checkpoint", dir, "--text", text, "--json");
        var last = CliRun.Run("eval", "--checkpoint", dir, "--text", text, "--json", "--last");
        Assert.True(best.ExitCode == 0 && last.ExitCode == 0, best.Error + last.Error);
        Assert.Equal(lowest.Step, JsonDocument.Parse(best.Out).RootElement.GetProperty("step").GetInt64());
        Assert.Equal(12, JsonDocument.Parse(last.Out).RootElement.GetProperty("step").GetInt64());
        Assert.Equal(BestCheckpoint.Resolve(dir, false), Path.Combine(dir, "best"));
        Assert.Equal(BestCheckpoint.Resolve(dir, true), dir);
    }

    [Fact]
    public void Early_stop_ends_the_run_after_n_evaluations_without_improvement()
    {
        string dir = temp["run"];
        var run = TrainCommandTests.Train(dir, "--steps", "60", "--eval-every", "1", "--lr", "0.3", "--early-stop", "2");
        Assert.True(run.ExitCode == 0, run.Error + run.Out);
        var summary = Json(Path.Combine(dir, "summary.json"));
        long steps = summary.GetProperty("steps").GetInt64(), bestStep = summary.GetProperty("best_step").GetInt64();
        Assert.True(summary.GetProperty("stopped_early").GetBoolean(), run.Out);
        Assert.True(steps < 60);
        Assert.Equal(bestStep + 2, steps);
        Assert.Contains("stopped early", run.Out, StringComparison.Ordinal);
        Assert.Equal(2, CliRun.Run("train", "--out", temp["x"], "--early-stop", "0").ExitCode);
    }
}
