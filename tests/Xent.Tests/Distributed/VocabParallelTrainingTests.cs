using System.Text.Json.Nodes;
using Xent.Distributed.InProcess;
using Xent.Distributed.Training;
using Xent.Optim;
using Xent.Tests.Cli;
using Xent.Training;
using Xent.Training.Checkpoints;
using Xent.Training.Data;
using Xent.Training.Model;
using Xent.Training.Runs;
using Xunit.Abstractions;

namespace Xent.Tests.Distributed;

/// <summary>
/// <c>xent train --vocab-parallel --untied</c> on in-process ranks: each rank holds its rows of the unembedding, and
/// the gradients, the training curve, the checkpoints and resumes are those of one process to float rounding.
/// </summary>
public sealed class VocabParallelTrainingTests(ITestOutputHelper output) : IDisposable
{
    private const int Batch = 5, Seq = 8;
    private static readonly GptConfig Config = new() { VocabSize = 23, ContextLength = Seq, Layers = 1, Heads = 2, Dim = 16, TieEmbeddings = false };
    private readonly TempFolder tmp = new();

    public void Dispose() => tmp.Dispose();

    private static (int[] Tokens, int[] Targets) Data(int seed)
    {
        var random = new Random(seed);
        var tokens = Enumerable.Range(0, Batch * Seq).Select(_ => random.Next(Config.VocabSize)).ToArray();
        var targets = Enumerable.Range(0, Batch * Seq).Select(i => i < Seq - 2 ? -100 : random.Next(Config.VocabSize)).ToArray();
        return (tokens, targets);
    }

    private static DataParallelStep VocabStep(Xent.Distributed.ICommunicator c, int accumulate = 1) => new(c, accumulate, vocabParallel: true);

    // B = 5 over 2 ranks x 3 micro-batches leaves rank 1 an empty micro-batch: it still serves the others' tokens.
    [Theory]
    [InlineData(1, 1, 0f)]
    [InlineData(2, 1, 0f)]
    [InlineData(3, 1, 0f)]
    [InlineData(2, 3, 0f)]
    [InlineData(3, 2, 0.2f)]
    public void Gradients_AreTheOneProcessGradients_EachRankItsRowsOfTheUnembedding(int ranks, int accumulate, float dropout)
    {
        const long step = 2;
        var (tokens, targets) = Data(1);
        var config = Config with { Dropout = dropout };
        var single = new GptModel(config, 7);
        float expectedLoss = single.ForwardBackward(tokens, targets, Batch, Seq, step);
        float expectedNorm = GradientClipping.GlobalNorm([.. single.Parameters.Select(p => p.Grad)]);
        var grads = new float[ranks][][];
        var results = new (float Loss, float Norm)[ranks];
        var rows = new (int Offset, int Count)[ranks];
        InProcessGroup.Run(ranks, c =>
        {
            var plan = new TrainingPlan { Model = config, Data = TokenDataset.Markov(), OutDir = "unused", Seed = 7 };
            var model = VocabStep(c).CreateModel(plan);
            results[c.Rank] = new VocabParallelGradients(c, model).ForwardBackward(tokens, targets, Batch, Seq, accumulate, step);
            grads[c.Rank] = [.. model.Parameters.Select(p => (float[])p.Grad.Clone())];
            rows[c.Rank] = model.HeadRows;
        });

        output.WriteLine($"loss: one process {expectedLoss:R}, {ranks} ranks {results[0].Loss:R}; norm {expectedNorm:R} vs {results[0].Norm:R}");
        Assert.Equal(Config.VocabSize, rows.Sum(r => r.Count));
        for (int r = 0; r < ranks; r++)
        {
            Assert.Equal(results[0], results[r]); // bitwise the same on every rank
            Assert.True(Math.Abs(results[r].Loss - expectedLoss) <= 1e-6 * expectedLoss, $"loss {results[r].Loss} vs {expectedLoss}");
            Assert.True(Math.Abs(results[r].Norm - expectedNorm) <= 1e-5 * expectedNorm, $"norm {results[r].Norm} vs {expectedNorm}");
            for (int i = 0; i < single.Parameters.Count; i++)
            {
                var p = single.Parameters[i];
                var e = p.Name == "lm_head" ? p.Grad.AsSpan(rows[r].Offset * Config.Dim, rows[r].Count * Config.Dim).ToArray() : p.Grad;
                double scale = p.Grad.Max(x => Math.Abs(x));
                Assert.Equal(e.Length, grads[r][i].Length);
                for (int j = 0; j < e.Length; j++)
                {
                    Assert.True(Math.Abs(grads[r][i][j] - e[j]) <= 1e-5 * (Math.Abs(e[j]) + scale),
                        $"rank {r} {p.Name}[{j}]: one process {e[j]}, {ranks} ranks x {accumulate} {grads[r][i][j]}");
                }
            }
        }
    }

    private static TrainingPlan Tiny(string outDir, int steps = 4, float dropout = 0f)
    {
        TokenDataset data = TokenDataset.Markov();
        return new TrainingPlan
        {
            Model = new GptConfig { VocabSize = data.Tokenizer.VocabSize, ContextLength = 16, Layers = 1, Dim = 16, Heads = 2, TieEmbeddings = false, Dropout = dropout },
            Data = data,
            OutDir = outDir,
            TotalSteps = steps,
            WarmupSteps = 1,
            Batch = 5,
            EvalEvery = 2,
            Threads = 1,
        };
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(3, 2)]
    public void Training_FollowsTheOneProcessRun_CheckpointIsOneProcesssFormat(int ranks, int accumulate)
    {
        var one = new TrainingLoop(Tiny(tmp["one"])).Run();
        var outcomes = new TrainingOutcome[ranks];
        InProcessGroup.Run(ranks, c =>
            outcomes[c.Rank] = new TrainingLoop(Tiny(c.Rank == 0 ? tmp["vocab"] : tmp[$"rank{c.Rank}"]), VocabStep(c, accumulate)).Run());

        for (int r = 1; r < ranks; r++)
        {
            Assert.False(Directory.Exists(tmp[$"rank{r}"]), $"rank {r} wrote into its folder");
            Assert.Equal(outcomes[0].FinalValLoss, outcomes[r].FinalValLoss);
        }

        Assert.True(outcomes[0].VocabParallel);
        Assert.Equal(one.ParameterCount, outcomes[0].ParameterCount);
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(tmp["vocab"], RunSummary.FileName)))!;
        Assert.True((bool)summary["vocab_parallel"]!);
        Assert.Equal(ranks, (int)summary["world_size"]!);
        Assert.False((bool)JsonNode.Parse(File.ReadAllText(Path.Combine(tmp["one"], RunSummary.FileName)))!["vocab_parallel"]!);
        var expected = MetricsLog.Read(Path.Combine(tmp["one"], MetricsLog.FileName));
        var actual = MetricsLog.Read(Path.Combine(tmp["vocab"], MetricsLog.FileName));
        Assert.All(actual, m => Assert.True(m.VocabParallel));
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.True(Math.Abs(actual[i].Loss - expected[i].Loss) <= 1e-5 * expected[i].Loss, $"step {expected[i].Step}: {expected[i].Loss} vs {actual[i].Loss}");
        }

        output.WriteLine($"final validation: one process {one.FinalValLoss:R}, {ranks} ranks {outcomes[0].FinalValLoss:R}");
        Assert.True(Math.Abs(outcomes[0].FinalValLoss!.Value - one.FinalValLoss!.Value) <= 1e-5 * one.FinalValLoss.Value);

        // The gathered checkpoint holds the whole unembedding and its moments, as one process writes them.
        foreach (string dir in new[] { tmp["vocab"], Path.Combine(tmp["vocab"], BestCheckpoint.Folder) })
        {
            var (model, checkpoint) = ModelCheckpoint.Load(dir);
            var (reference, referenceCheckpoint) = ModelCheckpoint.Load(dir.Replace(tmp["vocab"], tmp["one"], StringComparison.Ordinal));
            Assert.Equal(reference.Parameters.Select(p => p.ToString()), model.Parameters.Select(p => p.ToString()));
            Assert.Equal(referenceCheckpoint.OptimizerStep, checkpoint.OptimizerStep);
            foreach (var (name, tensor) in referenceCheckpoint.M)
            {
                Assert.Equal(tensor.Shape, checkpoint.M[name].Shape);
                Assert.Equal(tensor.Shape, checkpoint.V[name].Shape);
            }

            var head = model.Parameters.Single(p => p.Name == "lm_head").Data;
            var expectedHead = reference.Parameters.Single(p => p.Name == "lm_head").Data;
            double scale = expectedHead.Max(x => Math.Abs(x));
            Assert.All(head.Zip(expectedHead), p => Assert.True(Math.Abs(p.First - p.Second) <= 1e-4 * scale, $"{p.First} vs {p.Second}"));
        }
    }

    [Fact]
    public void ACheckpointOfTwoRanks_ResumesOnThree_AndInOneProcess_EndingWhereOneProcessDoes()
    {
        var one = new TrainingLoop(Tiny(tmp["whole"])).Run();
        InProcessGroup.Run(2, c =>
        {
            using var stop = new CancellationTokenSource();
            new TrainingLoop(Tiny(tmp["split"]), VocabStep(c)).Run(new StopAt(2, stop), stop.Token);
        });
        CopyFolder(tmp["split"], tmp["split1"]);

        var outcomes = new TrainingOutcome[3];
        InProcessGroup.Run(3, c =>
        {
            var plan = TrainingPlan.Resumed(tmp["split"]) with { Threads = 1, EvalEvery = 2 };
            outcomes[c.Rank] = new TrainingLoop(plan, VocabStep(c)).Run();
        });
        var alone = new TrainingLoop(TrainingPlan.Resumed(tmp["split1"]) with { Threads = 1, EvalEvery = 2 }).Run();

        double expected = one.FinalValLoss!.Value;
        output.WriteLine($"final validation: one process {expected:R}, 2 then 3 ranks {outcomes[0].FinalValLoss:R}, 2 ranks then one process {alone.FinalValLoss:R}");
        Assert.Equal(2, outcomes[0].StartStep);
        Assert.Equal(4, outcomes[0].FinalStep);
        Assert.True(Math.Abs(outcomes[0].FinalValLoss!.Value - expected) <= 1e-5 * expected);
        Assert.True(Math.Abs(alone.FinalValLoss!.Value - expected) <= 1e-5 * expected);
    }

    [Fact]
    public void ATiedModel_IsRefused()
    {
        InProcessGroup.Run(2, c =>
        {
            var plan = Tiny("unused") with { Model = Tiny("unused").Model with { TieEmbeddings = true } };
            var e = Assert.Throws<ArgumentException>(() => VocabStep(c).CreateModel(plan));
            Assert.Contains("untied", e.Message, StringComparison.Ordinal);
        });
    }

    [Fact]
    public void Cli_VocabParallelWithoutUntied_OrBadInput_ExitsTwo_WithOneMessage()
    {
        var tied = CliRun.Run("train", "--vocab-parallel", "--steps", "2", "--out", tmp["tied"]);
        tied.AssertBadInput("--vocab-parallel", "add --untied");

        // Without mpirun, --vocab-parallel runs on a group of one; input it cannot read is reported as in any run.
        var missing = CliRun.Run("train", "--vocab-parallel", "--untied", "--text", tmp["nowhere.txt"], "--out", tmp["missing"]);
        missing.AssertBadInput("nowhere.txt", "does not exist");

        var run = CliRun.Run("train", "--vocab-parallel", "--untied", "--steps", "2", "--batch", "2", "--seq", "16", "--layers", "1", "--dim", "16", "--heads", "2", "--out", tmp["vp"]);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.True((bool)JsonNode.Parse(File.ReadAllText(Path.Combine(tmp["vp"], RunSummary.FileName)))!["vocab_parallel"]!);
    }

    [Fact]
    public void WithDropout_DataParallelRanks_FollowTheOneProcessRun()
    {
        var one = new TrainingLoop(Tiny(tmp["drop1"], dropout: 0.2f)).Run();
        var outcomes = new TrainingOutcome[2];
        InProcessGroup.Run(2, c =>
            outcomes[c.Rank] = new TrainingLoop(Tiny(c.Rank == 0 ? tmp["drop2"] : tmp["drop2r"], dropout: 0.2f), new DataParallelStep(c)).Run());
        var expected = MetricsLog.Read(Path.Combine(tmp["drop1"], MetricsLog.FileName));
        var actual = MetricsLog.Read(Path.Combine(tmp["drop2"], MetricsLog.FileName));
        for (int i = 0; i < expected.Count; i++)
        {
            output.WriteLine($"step {expected[i].Step}: one process {expected[i].Loss:R}, 2 ranks {actual[i].Loss:R}");
            Assert.True(Math.Abs(actual[i].Loss - expected[i].Loss) <= 1e-5 * expected[i].Loss, $"step {expected[i].Step}: {expected[i].Loss} vs {actual[i].Loss}");
        }

        Assert.True(Math.Abs(outcomes[0].FinalValLoss!.Value - one.FinalValLoss!.Value) <= 1e-5 * one.FinalValLoss.Value);
    }

    [Fact]
    public void EarlyStop_RankZeroDecides_OtherRanksNeedNotSeeItsFolder()
    {
        InProcessGroup.Run(2, c => new TrainingLoop(Tiny(c.Rank == 0 ? tmp["early"] : tmp["early1"], steps: 2), new DataParallelStep(c)).Run());

        // A best checkpoint no later evaluation can beat: rank 0 stops at its first evaluation. Rank 1's folder has
        // no best/ (another machine): it must stop with rank 0, not train on alone.
        string note = Path.Combine(tmp["early"], BestCheckpoint.Folder, BestCheckpoint.InfoFile);
        File.WriteAllText(note, """{"step": 2, "val_loss": 0.001}""");
        var outcomes = new TrainingOutcome[2];
        InProcessGroup.Run(2, c =>
        {
            var plan = TrainingPlan.Resumed(tmp["early"]) with { Threads = 1, EvalEvery = 2, TotalSteps = 8, EarlyStop = 1 };
            outcomes[c.Rank] = new TrainingLoop(c.Rank == 0 ? plan : plan with { OutDir = tmp["early1"] }, new DataParallelStep(c)).Run();
        });

        Assert.All(outcomes, o => Assert.True(o.StoppedEarly));
        Assert.All(outcomes, o => Assert.Equal(4, o.FinalStep));
        Assert.All(outcomes, o => Assert.Equal(2, o.BestStep));
    }

    private static void CopyFolder(string from, string to)
    {
        foreach (string file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
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
}
