using Xent.Training.Checkpoints;
using Xent.Training.Checkpoints.HuggingFace;

namespace Xent.Tests.Cli;

/// <summary>
/// xent export: which checkpoint of a run it reads (the best by default, as eval and sample; --last for the last),
/// and that it never writes its Hugging Face files over a checkpoint of xent train, whose file names they share.
/// </summary>
public sealed class ExportCommandTests : IDisposable
{
    private readonly TempFolder dir = new();

    public void Dispose() => dir.Dispose();

    [Fact]
    public void AnOutFolderHoldingATrainingCheckpointIsRefusedAndTheRunStillResumes()
    {
        string run = dir["run"];
        Assert.Equal(0, TrainCommandTests.Train(run, "--steps", "2", "--eval-every", "1").ExitCode);
        Assert.True(CheckpointStore.Exists(Path.Combine(run, "best")));
        string other = dir["other"];
        Assert.Equal(0, TrainCommandTests.Train(other, "--steps", "1", "--eval-every", "10").ExitCode);
        var before = Snapshot(run);

        CliRun.Run("export", "--checkpoint", run, "--out", run).AssertBadInput(run, "--out is the --checkpoint folder");
        CliRun.Run("export", "--checkpoint", run, "--out", run + "/").AssertBadInput(run, "--out is the --checkpoint folder");
        CliRun.Run("export", "--checkpoint", run, "--out", Path.Combine(run, "best")).AssertBadInput("best", "--out holds a checkpoint of xent train");
        CliRun.Run("export", "--checkpoint", Path.Combine(run, "best"), "--out", run).AssertBadInput(run, "--out holds a checkpoint of xent train");
        CliRun.Run("export", "--checkpoint", run, "--out", other, "--last").AssertBadInput(other, "--out holds a checkpoint of xent train");

        Assert.Equal(before, Snapshot(run));
        var resumed = CliRun.Run("train", "--resume", run, "--steps", "3", "--eval-every", "10");
        Assert.True(resumed.ExitCode == 0, resumed.Error + resumed.Out);
        Assert.Equal(3, CheckpointStore.LoadConfig(run).Step);
    }

    [Fact]
    public void AnEarlierExportIsReplaced()
    {
        string run = dir["run"];
        Assert.Equal(0, TrainCommandTests.Train(run, "--steps", "1", "--eval-every", "10").ExitCode);
        string hf = dir["hf"];
        Assert.Equal(0, CliRun.Run("export", "--checkpoint", run, "--out", hf).ExitCode);
        var again = CliRun.Run("export", "--checkpoint", run, "--out", hf);
        Assert.True(again.ExitCode == 0, again.Error);
        Assert.True(Gpt2Checkpoint.IsCheckpoint(hf));
        Assert.False(CheckpointStore.IsTrainingCheckpoint(hf));
    }

    [Fact]
    public void TheBestCheckpointIsExportedUnlessLastIsGiven()
    {
        // A run whose best/ holds another step than its last: another run's checkpoint put there.
        string run = dir["run"], later = dir["later"];
        Assert.Equal(0, TrainCommandTests.Train(run, "--steps", "1", "--eval-every", "10").ExitCode);
        Assert.Equal(0, TrainCommandTests.Train(later, "--steps", "3", "--eval-every", "10").ExitCode);
        string best = Path.Combine(run, "best");
        Directory.CreateDirectory(best);
        foreach (string name in new[] { CheckpointStore.ModelFile, CheckpointStore.ConfigFile })
        {
            File.Copy(Path.Combine(later, name), Path.Combine(best, name), overwrite: true);
        }

        var byDefault = CliRun.Run("export", "--checkpoint", run, "--out", dir["hf-best"]);
        Assert.True(byDefault.ExitCode == 0, byDefault.Error);
        Assert.Contains($"from step 3 of {best}", byDefault.Out, StringComparison.Ordinal);
        AssertSameWeights(best, dir["hf-best"]);

        var last = CliRun.Run("export", "--checkpoint", run, "--out", dir["hf-last"], "--last");
        Assert.True(last.ExitCode == 0, last.Error);
        Assert.Contains($"from step 1 of {run}:", last.Out, StringComparison.Ordinal);
        AssertSameWeights(run, dir["hf-last"]);
    }

    private static void AssertSameWeights(string checkpoint, string hf)
    {
        var (trained, _) = ModelCheckpoint.Load(checkpoint);
        var exported = Gpt2Checkpoint.Load(hf);
        for (int i = 0; i < trained.Parameters.Count; i++)
        {
            Assert.Equal(trained.Parameters[i].Data, exported.Parameters[i].Data);
        }
    }

    private static Dictionary<string, string> Snapshot(string folder) =>
        Directory.GetFiles(folder, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(folder, f), f => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))));
}
