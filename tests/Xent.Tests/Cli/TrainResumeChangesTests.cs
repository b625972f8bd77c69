using Xent.Training.Checkpoints;

namespace Xent.Tests.Cli;

/// <summary>
/// What `--resume` may change, said aloud (each changed setting, old -> new), what it may not (a tokenizer the
/// checkpoint's data does not have, as on a fresh run), and a warm-up that would leave the run unannealed.
/// </summary>
public sealed class TrainResumeChangesTests : IDisposable
{
    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    private string Trained()
    {
        string dir = temp["run"];
        var run = TrainCommandTests.Train(dir, "--steps", "3", "--eval-every", "3");
        Assert.True(run.ExitCode == 0, run.Error + run.Out);
        return dir;
    }

    [Fact]
    public void A_resumed_run_names_each_setting_it_changes()
    {
        string dir = Trained();
        var run = CliRun.Run("train", "--resume", dir, "--steps", "5", "--lr", "0.01", "--batch", "4", "--weight-decay", "0.1");
        Assert.True(run.ExitCode == 0, run.Error + run.Out);
        Assert.Contains("Changed from the checkpoint's settings: total steps 3 -> 5, batch 2 -> 4, peak learning rate 0.02 -> 0.01, weight decay 0 -> 0.1.", run.Out, StringComparison.Ordinal);
        CheckpointConfig saved = CheckpointStore.LoadConfig(dir);
        Assert.Equal((4, 0.01), (saved.Training.Batch, saved.Training.LearningRate));

        // Nothing changed but the total: only that is said.
        var again = CliRun.Run("train", "--resume", dir, "--steps", "6");
        Assert.True(again.ExitCode == 0, again.Error + again.Out);
        Assert.Contains("Changed from the checkpoint's settings: total steps 5 -> 6.", again.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tokenizer_the_built_in_corpus_has_not_is_an_error_on_resume_as_on_a_fresh_run()
    {
        string dir = Trained();
        CliRun.Run("train", "--resume", dir, "--steps", "5", "--tokenizer", "bytes").AssertBadInput("--tokenizer bytes", "trained on the built-in corpus");
        CliRun.Run("train", "--out", temp["fresh"], "--steps", "5", "--tokenizer", "bytes").AssertBadInput("--tokenizer", "applies to --text");
    }

    [Fact]
    public void A_warm_up_as_long_as_the_run_gets_a_warning_and_a_normal_one_none()
    {
        var warm = TrainCommandTests.Train(temp["warm"], "--steps", "5", "--warmup", "10");
        Assert.True(warm.ExitCode == 0, warm.Error + warm.Out);
        Assert.Contains("xent: warning: the warm-up (5 steps) lasts the whole run of 5 steps", warm.Error, StringComparison.Ordinal);

        var normal = TrainCommandTests.Train(temp["normal"], "--steps", "5", "--warmup", "2");
        Assert.True(normal.ExitCode == 0, normal.Error + normal.Out);
        Assert.DoesNotContain("warning", normal.Error, StringComparison.Ordinal);
    }
}
