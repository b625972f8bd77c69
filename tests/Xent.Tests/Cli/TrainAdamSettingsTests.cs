using Xent.Optim;
using Xent.Training.Checkpoints;
using Xent.Training.Runs;

namespace Xent.Tests.Cli;

/// <summary>
/// AdamW's betas and epsilon and the gradient clip: set by --beta1, --beta2, --eps and --grad-clip, recorded in
/// config.json, and taken from there by --resume (config.json recorded them before, but a resume ran with the defaults
/// whatever it said, and no flag set them). A resume may change them as it may --lr, and says so.
/// </summary>
public sealed class TrainAdamSettingsTests : IDisposable
{
    private static readonly string[] Given = ["--beta1", "0.8", "--beta2", "0.95", "--eps", "1e-6", "--grad-clip", "0.5"];

    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public void The_defaults_are_AdamWOptions_floats_so_a_default_run_keeps_its_bits()
    {
        var adam = new AdamWOptions();
        Assert.Equal((adam.Beta1, adam.Beta2, adam.Epsilon), ((float)TrainingDefaults.Beta1, (float)TrainingDefaults.Beta2, (float)TrainingDefaults.Epsilon));
        CheckpointTraining t = CheckpointStore.LoadConfig(Trained("default")).Training;
        Assert.Equal((0.9, 0.999, 1e-8, 1.0), (t.Beta1, t.Beta2, t.Epsilon, t.GradClip));
    }

    [Fact]
    public void The_flags_are_recorded_and_a_resume_runs_with_the_recorded_values()
    {
        string part = Trained("part", Given);
        CheckpointTraining t = CheckpointStore.LoadConfig(part).Training;
        Assert.Equal((0.8, 0.95, 1e-6, 0.5), (t.Beta1, t.Beta2, t.Epsilon, t.GradClip));

        // Without the flags, with them repeated, and with the defaults given: the first two are the same run.
        CliRun Resume(string into, params string[] flags) => CliRun.Run(["train", "--resume", part, "--out", into, "--steps", "4", "--eval-every", "4", .. flags]);
        var plain = Resume(temp["plain"]);
        Assert.True(plain.ExitCode == 0, plain.Error + plain.Out);
        Assert.DoesNotContain("Changed from the checkpoint's settings: beta", plain.Out, StringComparison.Ordinal);
        var repeated = Resume(temp["repeated"], Given);
        Assert.True(repeated.ExitCode == 0, repeated.Error + repeated.Out);
        var defaults = Resume(temp["defaults"], "--beta1", "0.9", "--beta2", "0.999", "--eps", "1e-8", "--grad-clip", "1");
        Assert.True(defaults.ExitCode == 0, defaults.Error + defaults.Out);

        Assert.Equal(Weights(temp["repeated"]), Weights(temp["plain"]));
        Assert.NotEqual(Weights(temp["defaults"]), Weights(temp["plain"]));
        t = CheckpointStore.LoadConfig(temp["plain"]).Training;
        Assert.Equal((0.8, 0.95, 1e-6, 0.5), (t.Beta1, t.Beta2, t.Epsilon, t.GradClip));
    }

    [Fact]
    public void A_resume_may_change_them_and_says_so()
    {
        string dir = Trained("run", Given);
        var run = CliRun.Run("train", "--resume", dir, "--steps", "3", "--beta2", "0.99", "--grad-clip", "0");
        Assert.True(run.ExitCode == 0, run.Error + run.Out);
        Assert.Contains("Changed from the checkpoint's settings: total steps 2 -> 3, beta2 0.95 -> 0.99, gradient clip 0.5 -> 0.", run.Out, StringComparison.Ordinal);
        CheckpointTraining t = CheckpointStore.LoadConfig(dir).Training;
        Assert.Equal((0.8, 0.99, 1e-6, 0.0), (t.Beta1, t.Beta2, t.Epsilon, t.GradClip));
    }

    /// <summary>
    /// The model line listed dropout and weight decay but not the betas, epsilon or clip a run was given, and the
    /// changes of a resume printed small values in .NET's G4 ("epsilon 1E-06 -> 1E-05"), large step counts in
    /// exponents ("total steps 1.234E+04") and a beta2 of 0.99999 as 1: non-default optimizer settings now follow the
    /// weight decay on the model line, and numbers print as people write them.
    /// </summary>
    [Fact]
    public void The_model_line_shows_non_default_optimizer_settings_and_changes_print_readably()
    {
        var given = TrainCommandTests.Train(temp["given"], ["--steps", "2", "--eval-every", "2", .. Given]);
        Assert.True(given.ExitCode == 0, given.Error + given.Out);
        Assert.Contains("tied embeddings, beta1 0.8, beta2 0.95, epsilon 1e-06, gradient clip 0.5; batch ", given.Out, StringComparison.Ordinal);

        var plain = TrainCommandTests.Train(temp["plain"], "--steps", "2", "--eval-every", "2", "--beta2", "0.999", "--grad-clip", "0");
        Assert.True(plain.ExitCode == 0, plain.Error + plain.Out);
        Assert.Contains("tied embeddings, no gradient clipping; batch ", plain.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("beta", plain.Out, StringComparison.Ordinal);

        // Stopped as Ctrl+C stops it, before the many steps: the lines come first.
        var resumed = CliRun.Run(new CancellationToken(canceled: true), "train", "--resume", temp["given"], "--steps", "12345", "--eps", "1e-5", "--weight-decay", "2e-5", "--beta2", "0.99999");
        Assert.Contains("total steps 2 -> 12345, weight decay 0 -> 2e-05, beta2 0.95 -> 0.99999, epsilon 1e-06 -> 1e-05.", resumed.Out, StringComparison.Ordinal);
        Assert.Contains("weight decay 2e-05, beta1 0.8, beta2 0.99999, epsilon 1e-05, gradient clip 0.5; batch ", resumed.Out, StringComparison.Ordinal);
    }

    private string Trained(string name, params string[] flags)
    {
        string dir = temp[name];
        var run = TrainCommandTests.Train(dir, ["--steps", "2", "--eval-every", "2", .. flags]);
        Assert.True(run.ExitCode == 0, run.Error + run.Out);
        return dir;
    }

    private static float[][] Weights(string dir) =>
        [.. ModelCheckpoint.Load(dir).Model.Parameters.Select(p => p.Data)];
}
