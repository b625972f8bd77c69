using System.Diagnostics;
using System.Text.Json.Nodes;
using Xent.Distributed.InProcess;
using Xent.Distributed.Training;
using Xent.Tests.Cli;
using Xent.Training.Checkpoints;
using Xent.Training.Data;
using Xent.Training.Model;
using Xent.Training.Runs;
using Xunit.Abstractions;

namespace Xent.Tests.Distributed;

/// <summary>
/// The training loop with <see cref="DataParallelStep"/>: K in-process ranks on the same global batches follow the
/// one-process run to float rounding, only rank 0 writes, every rank stops after the same step; and
/// <c>mpirun -np 2 xent train</c> ends where one process does.
/// </summary>
public sealed class DataParallelTrainingTests(ITestOutputHelper output) : IDisposable
{
    private const int Steps = 4;
    private readonly TempFolder tmp = new();

    public void Dispose() => tmp.Dispose();

    private static TrainingPlan Tiny(string outDir, int steps = Steps)
    {
        TokenDataset data = TokenDataset.Markov();
        return new TrainingPlan
        {
            Model = new GptConfig { VocabSize = data.Tokenizer.VocabSize, ContextLength = 16, Layers = 1, Dim = 16, Heads = 2 },
            Data = data,
            OutDir = outDir,
            TotalSteps = steps,
            WarmupSteps = 1,
            Batch = 5, // odd: the ranks' slices differ in size
            EvalEvery = 2,
            Threads = 1,
        };
    }

    private static long UlpDistance(double a, double b) =>
        Math.Abs((long)BitConverter.SingleToInt32Bits((float)a) - BitConverter.SingleToInt32Bits((float)b));

    [Theory]
    [InlineData(2, 1)]
    [InlineData(3, 2)]
    public void Ranks_FollowTheOneProcessRun_OnlyRankZeroWrites(int ranks, int accumulate)
    {
        var one = new TrainingLoop(Tiny(tmp["one"])).Run();
        var outcomes = new TrainingOutcome[ranks];
        InProcessGroup.Run(ranks, c =>
        {
            // Ranks but 0 are given folders of their own: they must not even create them.
            var plan = Tiny(c.Rank == 0 ? tmp["many"] : tmp[$"rank{c.Rank}"]);
            outcomes[c.Rank] = new TrainingLoop(plan, new DataParallelStep(c, accumulate)).Run();
        });

        for (int r = 1; r < ranks; r++)
        {
            Assert.False(Directory.Exists(tmp[$"rank{r}"]), $"rank {r} wrote into its folder");
            Assert.Equal(outcomes[0].FinalValLoss, outcomes[r].FinalValLoss); // the replicas stay bitwise identical
            Assert.Equal(outcomes[0].CheckpointStep, outcomes[r].CheckpointStep);
        }

        Assert.Equal(TrainingStatus.Completed, outcomes[0].Status);
        Assert.Equal(ranks, outcomes[0].WorldSize);
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(tmp["many"], RunSummary.FileName)))!;
        Assert.Equal(ranks, (int)summary["world_size"]!);
        Assert.Equal(1, (int)JsonNode.Parse(File.ReadAllText(Path.Combine(tmp["one"], RunSummary.FileName)))!["world_size"]!);
        Assert.True(File.Exists(Path.Combine(tmp["many"], CheckpointStore.ModelFile)));

        var expected = MetricsLog.Read(Path.Combine(tmp["one"], MetricsLog.FileName));
        var actual = MetricsLog.Read(Path.Combine(tmp["many"], MetricsLog.FileName));
        Assert.Equal(expected.Select(m => m.Step), actual.Select(m => m.Step));
        Assert.All(actual, m => Assert.Equal(ranks, m.WorldSize));
        for (int i = 0; i < expected.Count; i++)
        {
            output.WriteLine($"step {expected[i].Step}: one process {expected[i].Loss:R}, {ranks} ranks x {accumulate} {actual[i].Loss:R} ({UlpDistance(expected[i].Loss, actual[i].Loss)} ulp)");
            Assert.True(Math.Abs(actual[i].Loss - expected[i].Loss) <= 1e-5 * expected[i].Loss, $"step {expected[i].Step}: {expected[i].Loss} vs {actual[i].Loss}");
        }

        output.WriteLine($"final validation: one process {one.FinalValLoss:R}, {ranks} ranks {outcomes[0].FinalValLoss:R} ({UlpDistance(one.FinalValLoss!.Value, outcomes[0].FinalValLoss!.Value)} ulp)");
        Assert.True(Math.Abs(outcomes[0].FinalValLoss!.Value - one.FinalValLoss!.Value) <= 1e-5 * one.FinalValLoss.Value);
    }

    [Fact]
    public void AStopSeenByOneRank_StopsEveryRankAfterTheSameStep()
    {
        var outcomes = new TrainingOutcome[2];
        InProcessGroup.Run(2, c =>
        {
            using var stop = new CancellationTokenSource();
            var progress = new StopAt(c.Rank == 1 ? 3 : long.MaxValue, stop); // only rank 1 is asked to stop
            outcomes[c.Rank] = new TrainingLoop(Tiny(tmp[$"stop{c.Rank}"], steps: 8), new DataParallelStep(c)).Run(progress, stop.Token);
        });

        Assert.All(outcomes, o => Assert.Equal(TrainingStatus.Interrupted, o.Status));
        Assert.All(outcomes, o => Assert.Equal(3, o.FinalStep));
        Assert.Equal(3, outcomes[0].CheckpointStep);
        Assert.Equal(3, MetricsLog.Read(Path.Combine(tmp["stop0"], MetricsLog.FileName)).Count);
    }

    [Fact]
    public void ACheckpointOfTwoRanks_ResumesOnThree_AndEndsWhereOneProcessDoes()
    {
        var one = new TrainingLoop(Tiny(tmp["whole"])).Run();
        InProcessGroup.Run(2, c =>
        {
            using var stop = new CancellationTokenSource();
            new TrainingLoop(Tiny(tmp["split"]), new DataParallelStep(c)).Run(new StopAt(2, stop), stop.Token);
        });

        var outcomes = new TrainingOutcome[3];
        InProcessGroup.Run(3, c =>
        {
            // Every rank loads its own replica; the checkpoint holds nothing per rank.
            var plan = TrainingPlan.Resumed(tmp["split"]) with { Threads = 1, EvalEvery = 2 };
            outcomes[c.Rank] = new TrainingLoop(plan, new DataParallelStep(c)).Run();
        });

        Assert.Equal(2, outcomes[0].StartStep);
        Assert.Equal(Steps, outcomes[0].FinalStep);
        Assert.Equal(3, outcomes[0].WorldSize);
        double expected = one.FinalValLoss!.Value, actual = outcomes[0].FinalValLoss!.Value;
        output.WriteLine($"final validation: one process {expected:R}, 2 then 3 ranks {actual:R} ({UlpDistance(expected, actual)} ulp)");
        Assert.True(Math.Abs(actual - expected) <= 1e-5 * expected);
        Assert.Equal(Enumerable.Range(1, Steps).Select(i => (long)i), MetricsLog.Read(Path.Combine(tmp["split"], MetricsLog.FileName)).Select(m => m.Step));
    }

    private sealed class StopAt(long step, CancellationTokenSource stop) : ITrainingProgress
    {
        public void OnStep(StepReport report)
        {
            if (report.Step >= step)
            {
                stop.Cancel();
            }
        }
    }

    [MpirunFact]
    public void MpirunTwoRanks_EndsWhereOneProcessDoes()
    {
        string[] args = ["train", "--steps", "20", "--warmup", "2", "--batch", "8", "--seq", "32", "--layers", "1", "--dim", "32", "--heads", "2", "--eval-every", "10", "--threads", "1"];
        var one = CliRun.Run([.. args, "--out", tmp["cli1"]]);
        Assert.True(one.ExitCode == 0, one.Error);
        var (code, stdout, stderr, seconds) = Mpirun.RunProgram("Xent.Cli.dll", 2, 300, [.. args, "--out", tmp["cli2"]]);
        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        Assert.Contains("Data parallel: 2 process(es)", stdout, StringComparison.Ordinal);
        Assert.Single(stdout.Split('\n'), l => l.Contains("Corpus:", StringComparison.Ordinal)); // rank 0 alone prints

        var s1 = JsonNode.Parse(File.ReadAllText(Path.Combine(tmp["cli1"], RunSummary.FileName)))!;
        var s2 = JsonNode.Parse(File.ReadAllText(Path.Combine(tmp["cli2"], RunSummary.FileName)))!;
        Assert.Equal(2, (int)s2["world_size"]!);
        Assert.Equal(20, (int)s2["steps"]!);
        double v1 = (double)s1["final_val_loss"]!, v2 = (double)s2["final_val_loss"]!;
        output.WriteLine($"final validation loss: one process {v1:R}, mpirun -np 2 {v2:R} ({UlpDistance(v1, v2)} ulp); the job took {seconds:F1} s");
        Assert.True(Math.Abs(v2 - v1) <= 0.01 * v1, $"one process {v1}, two {v2}");
        Assert.True(File.Exists(Path.Combine(tmp["cli2"], "loss.png")));
    }

    [MpirunFact]
    public void MpirunVocabParallel_EndsWhereOneProcessDoes()
    {
        string[] args = ["train", "--steps", "10", "--warmup", "2", "--batch", "5", "--seq", "32", "--layers", "1", "--dim", "32", "--heads", "2", "--eval-every", "5", "--threads", "1", "--untied"];
        var one = CliRun.Run([.. args, "--out", tmp["vp1"]]);
        Assert.True(one.ExitCode == 0, one.Error);
        var (code, stdout, stderr, seconds) = Mpirun.RunProgram("Xent.Cli.dll", 2, 300, [.. args, "--vocab-parallel", "--out", tmp["vp2"]]);
        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        Assert.Contains("Vocabulary parallel: each process holds 16 of the 32 rows", stdout, StringComparison.Ordinal);
        var s1 = JsonNode.Parse(File.ReadAllText(Path.Combine(tmp["vp1"], RunSummary.FileName)))!;
        var s2 = JsonNode.Parse(File.ReadAllText(Path.Combine(tmp["vp2"], RunSummary.FileName)))!;
        Assert.Equal(2, (int)s2["world_size"]!);
        Assert.True((bool)s2["vocab_parallel"]!);
        double v1 = (double)s1["final_val_loss"]!, v2 = (double)s2["final_val_loss"]!;
        output.WriteLine($"final validation loss: one process {v1:R}, mpirun -np 2 --vocab-parallel {v2:R} ({UlpDistance(v1, v2)} ulp); the job took {seconds:F1} s");
        Assert.True(Math.Abs(v2 - v1) <= 1e-4 * v1, $"one process {v1}, two {v2}");

        // The checkpoint rank 0 gathered is one process's: a one-process run resumes it.
        var resumed = CliRun.Run("train", "--resume", tmp["vp2"], "--steps", "12");
        Assert.True(resumed.ExitCode == 0, resumed.Error);
    }

    [MpirunFact]
    public void MpirunSigtermToOneRank_StopsEveryRankAsSigterm()
    {
        // MPMD: rank 1 runs under a shell that sends its xent SIGTERM once rank 0 has written a step. Every rank stops
        // with a checkpoint, rank 0 names the signal that rank 1 saw, and every rank exits 143 (rank 0, which saw none,
        // said "Interrupted" and exited 130).
        string dir = tmp["sigterm"];
        string dll = Path.Combine(AppContext.BaseDirectory, "Xent.Cli.dll");
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        string[] train = [dotnet, dll, "train", "--steps", "5000", "--batch", "2", "--seq", "16", "--layers", "1", "--dim", "16", "--heads", "2", "--eval-every", "1000", "--threads", "1", "--out", dir];
        var start = new ProcessStartInfo(Mpirun.Path!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        string[] args =
        [
            "--allow-run-as-root", "--oversubscribe", "-np", "1", .. train, ":", "-np", "1", "sh", "-c",
            "m=$1; shift; \"$@\" & c=$!; while [ ! -s \"$m\" ]; do sleep 0.05; done; kill -TERM $c; wait $c", "sh", Path.Combine(dir, MetricsLog.FileName), .. train,
        ];
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }

        start.Environment.Remove("OMPI_COMM_WORLD_SIZE");
        start.Environment.Remove("PMIX_RANK");
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(120_000))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("mpirun did not finish within 120 s");
        }

        Assert.True(process.ExitCode == 143, $"exit {process.ExitCode}\n{stdout.Result}\n{stderr.Result}");
        Assert.Contains("Stopped by SIGTERM at step", stdout.Result, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(dir, CheckpointStore.ModelFile)));
    }

    [MpirunFact]
    public void MpirunInputMissingOnOneRank_IsReportedOnceByThatRank_ExitTwo()
    {
        // MPMD: rank 1 is given a text file that does not exist (as on a machine without it); rank 0's exists.
        string text = tmp["corpus.txt"];
        File.WriteAllText(text, string.Concat(Enumerable.Repeat("the quick brown fox jumps over the lazy dog. ", 200)));
        string[] common = ["train", "--steps", "2", "--batch", "2", "--seq", "16", "--layers", "1", "--dim", "16", "--heads", "2", "--threads", "1", "--out", tmp["missing"]];
        var (code, stdout, stderr, _) = Mpirun.RunRanks("Xent.Cli.dll", 120, [.. common, "--text", text], [.. common, "--text", tmp["nowhere.txt"]]);
        output.WriteLine(stderr);
        Assert.True(code == 2, $"exit {code}\n{stdout}\n{stderr}");
        Assert.Single(stderr.Split('\n'), l => l.StartsWith("xent: error:", StringComparison.Ordinal));
        Assert.Contains("nowhere.txt", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("failed:", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", stdout + stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(tmp["missing"], CheckpointStore.ModelFile)));
    }

    [MpirunFact]
    public void MpirunBadInput_IsReportedOnce()
    {
        var (code, stdout, stderr, _) = Mpirun.RunProgram("Xent.Cli.dll", 2, 120, "train", "--steps", "0", "--out", tmp["bad"]);
        Assert.NotEqual(0, code);
        Assert.Single(stderr.Split('\n'), l => l.Contains("xent: error: --steps must be at least 1.", StringComparison.Ordinal));
        Assert.DoesNotContain("Exception", stdout + stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(tmp["bad"]));
    }

    [MpirunFact]
    public void MpirunBadInputAfterTheRanksStarted_EndsWithExitTwo_ReportedOnce()
    {
        // A folder where metrics.jsonl should go: rank 0 meets it only once the job runs, inside DistributedJob.
        string dir = tmp["blocked"];
        Directory.CreateDirectory(Path.Combine(dir, MetricsLog.FileName));
        string stdout = TinyMpiTrainRefused(dir, $"'{Path.Combine(dir, MetricsLog.FileName)}' is a folder");
        Assert.Contains("Data parallel: 2 process(es)", stdout, StringComparison.Ordinal);
    }

    [MpirunFact]
    public void MpirunFolderInUse_IsRefusedOnceBeforeTheRun()
    {
        // The folder is locked by this process: rank 0 refuses it while the ranks agree on the plan, before any output.
        string dir = tmp["locked"];
        Directory.CreateDirectory(dir);
        using (RunFolderLock.Acquire(dir, "test"))
        {
            string stdout = TinyMpiTrainRefused(dir, $"'{dir}' is in use by another run");
            Assert.DoesNotContain("Data parallel", stdout, StringComparison.Ordinal);
        }
    }

    /// <summary>A 2-rank tiny training into <paramref name="dir"/>: exit code 2 and <paramref name="error"/> once on stderr, as one process says it; returns stdout.</summary>
    private static string TinyMpiTrainRefused(string dir, string error)
    {
        var (code, stdout, stderr, _) = Mpirun.RunProgram("Xent.Cli.dll", 2, 120,
            "train", "--steps", "5", "--batch", "4", "--seq", "32", "--layers", "1", "--dim", "16", "--heads", "2", "--threads", "1", "--out", dir);
        Assert.True(code == 2, $"exit {code}\n{stdout}\n{stderr}");
        Assert.Single(stderr.Split('\n'), l => l.Contains($"xent: error: {error}", StringComparison.Ordinal));
        Assert.DoesNotContain("failed:", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", stdout + stderr, StringComparison.Ordinal);
        return stdout;
    }
}
