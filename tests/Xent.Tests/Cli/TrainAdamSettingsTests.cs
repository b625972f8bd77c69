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
