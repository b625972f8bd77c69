using Xent.Tests.Cli;
using Xent.Training;
using Xent.Training.Checkpoints;
using Xent.Training.Data;
using Xent.Training.Model;
using Xent.Training.Runs;

namespace Xent.Tests.Training;

/// <summary>
/// A cancellation (Ctrl+C) reaches the validation of one process: the validation in progress stops, no other is
/// run, and the last step is saved unmeasured, with status Interrupted.
/// </summary>
public sealed class ValidationCancellationTests : IDisposable
{
    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    private static TrainingPlan Tiny(string outDir, int steps, int evalEvery)
    {
        TokenDataset data = TokenDataset.Markov();
        return new TrainingPlan
        {
            Model = new GptConfig { VocabSize = data.Tokenizer.VocabSize, ContextLength = 16, Layers = 1, Dim = 16, Heads = 2 },
            Data = data,
            OutDir = outDir,
            TotalSteps = steps,
            WarmupSteps = TrainingDefaults.Warmup(steps),
            Batch = 2,
            EvalEvery = evalEvery,
        };
    }

    [Fact]
    public void Cancelled_before_the_run_measures_nothing_and_saves_step_0()
    {
        string dir = temp["run"];
        using var stop = new CancellationTokenSource();
        stop.Cancel();
        var outcome = new TrainingLoop(Tiny(dir, 4, 1)).Run(null, stop.Token);

        Assert.Equal(TrainingStatus.Interrupted, outcome.Status);
        Assert.Equal(0, outcome.FinalStep);
        Assert.True(double.IsNaN(outcome.InitialValLoss), $"initial validation measured: {outcome.InitialValLoss}");
        Assert.Null(outcome.RunInitialValLoss);
        Assert.Null(outcome.FinalValLoss);
        Assert.Equal(0, outcome.CheckpointStep);
        Assert.Equal(0, CheckpointStore.LoadConfig(dir).Step);
        Assert.True(File.Exists(Path.Combine(dir, RunSummary.FileName)));
    }

    [Fact]
    public void Cancelled_in_a_step_stops_its_validation_and_the_unmeasured_checkpoint_resumes_to_the_same_bits()
    {
        string whole = temp["whole"], split = temp["split"];
        var a = new TrainingLoop(Tiny(whole, 5, 1)).Run();
        Assert.Equal(TrainingStatus.Completed, a.Status);

        // Cancelled inside step 3, whose validation is due: it is stopped before its first batch.
        using var stop = new CancellationTokenSource();
        var b = new TrainingLoop(Tiny(split, 5, 1), new CancelInStep(3, stop)).Run(null, stop.Token);
        Assert.Equal(TrainingStatus.Interrupted, b.Status);
        Assert.Equal(3, b.FinalStep);
        Assert.Equal(3, b.CheckpointStep);
        Assert.Null(b.FinalValLoss);
        Assert.True(b.BestStep < 3, $"best step {b.BestStep}"); // step 3 was never measured
        var lines = MetricsLog.Read(Path.Combine(split, MetricsLog.FileName));
        Assert.Equal([1L, 2L, 3L], lines.Select(r => r.Step));
        Assert.NotNull(lines[1].ValLoss);
        Assert.Null(lines[2].ValLoss);

        var c = new TrainingLoop(TrainingPlan.Resumed(split)).Run();
        Assert.Equal((TrainingStatus.Completed, 3L, 5L), (c.Status, c.StartStep, c.FinalStep));
        Assert.Equal(a.FinalValLoss, c.FinalValLoss);
        Assert.Equal(File.ReadAllBytes(Path.Combine(whole, CheckpointStore.ModelFile)), File.ReadAllBytes(Path.Combine(split, CheckpointStore.ModelFile)));
    }

    [Fact]
    public void Cancelled_in_the_last_step_is_interrupted_not_completed()
    {
        string dir = temp["run"];
        using var stop = new CancellationTokenSource();
        var outcome = new TrainingLoop(Tiny(dir, 3, 100), new CancelInStep(3, stop)).Run(null, stop.Token);

        // The last step's validation (due after the last step) was stopped: the run did not finish its work.
        Assert.Equal(TrainingStatus.Interrupted, outcome.Status);
        Assert.Equal(3, outcome.FinalStep);
        Assert.Equal(3, outcome.CheckpointStep);
        Assert.Null(outcome.FinalValLoss);
    }

    private static TrainingPlan EarlyStopping(string outDir) => Tiny(outDir, 40, 1) with { EarlyStop = 3, LearningRate = 0.1 };

    [Fact]
    public void An_evaluation_cut_by_a_cancellation_is_redone_on_resume_and_early_stop_ends_as_the_uninterrupted_run()
    {
        string whole = temp["whole"];
        var a = new TrainingLoop(EarlyStopping(whole)).Run();
        Assert.True(a.StoppedEarly);
        long bestStep = a.BestStep!.Value;
        Assert.Equal(bestStep + 3, a.FinalStep);

        // The evaluation cut: the best's, one without improvement, the one that stopped the uninterrupted run.
        foreach (long cut in new[] { bestStep, bestStep + 1, a.FinalStep })
        {
            string split = temp[$"cut-{cut}"];
            using var stop = new CancellationTokenSource();
            var b = new TrainingLoop(EarlyStopping(split), new CancelInStep(cut, stop)).Run(null, stop.Token);
            Assert.Equal((TrainingStatus.Interrupted, cut), (b.Status, b.CheckpointStep));
            Assert.Null(MetricsLog.Read(Path.Combine(split, MetricsLog.FileName))[^1].ValLoss);

            var c = new TrainingLoop(TrainingPlan.Resumed(split) with { EvalEvery = 1, EarlyStop = 3 }).Run();
            Assert.True(c.StoppedEarly, $"cut at {cut}: not stopped early");
            Assert.Equal((a.FinalStep, a.BestStep, a.BestValLoss, a.FinalValLoss), (c.FinalStep, c.BestStep, c.BestValLoss, c.FinalValLoss));
            AssertSameRun(whole, split);
        }
    }

    [Fact]
    public void A_run_resumed_from_the_checkpoint_where_early_stop_triggered_ends_there()
    {
        // As a run killed right after that checkpoint was saved: the patience ran out there, so no step is trained.
        string whole = temp["whole"], killed = temp["killed"];
        var a = new TrainingLoop(EarlyStopping(whole)).Run();
        Assert.True(a.StoppedEarly);
        CopyFolder(whole, killed);
        File.Delete(Path.Combine(killed, RunSummary.FileName));

        var c = new TrainingLoop(TrainingPlan.Resumed(killed) with { EvalEvery = 1, EarlyStop = 3 }).Run();
        Assert.True(c.StoppedEarly);
        Assert.Equal((TrainingStatus.Completed, a.FinalStep, a.FinalStep), (c.Status, c.StartStep, c.FinalStep));
        Assert.Equal((a.BestStep, a.FinalValLoss), (c.BestStep, c.FinalValLoss));
        AssertSameRun(whole, killed);
    }

    // The same checkpoints (the last and best/) and the same validation losses in metrics.jsonl.
    private static void AssertSameRun(string whole, string other)
    {
        foreach (string file in new[] { CheckpointStore.ModelFile, Path.Combine(BestCheckpoint.Folder, CheckpointStore.ModelFile), Path.Combine(BestCheckpoint.Folder, BestCheckpoint.InfoFile) })
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(whole, file)), File.ReadAllBytes(Path.Combine(other, file)));
        }

        static IEnumerable<(long, double?)> Losses(string dir) => MetricsLog.Read(Path.Combine(dir, MetricsLog.FileName)).Select(r => (r.Step, r.ValLoss));
        Assert.Equal(Losses(whole), Losses(other));
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

    /// <summary>One process's step that cancels <paramref name="stop"/> while it takes step <paramref name="step"/>.</summary>
    private sealed class CancelInStep(long step, CancellationTokenSource stop) : IGradientStep
    {
        private readonly IGradientStep inner = LocalGradientStep.Instance;

        public int WorldSize => inner.WorldSize;

        public bool WritesOutputs => inner.WritesOutputs;

        public bool VocabParallel => inner.VocabParallel;

        public GptModel CreateModel(TrainingPlan plan) => inner.CreateModel(plan);

        public void FromWriter(Span<double> values) => inner.FromWriter(values);

        public CheckpointState? CheckpointState(Trainer trainer) => inner.CheckpointState(trainer);

        public TrainStepResult Step(Trainer trainer, ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, int batch, int seq)
        {
            if (trainer.Optimizer.StepCount + 1 == step)
            {
                stop.Cancel();
            }

            return inner.Step(trainer, tokens, targets, batch, seq);
        }

        public bool AgreeToStop(bool requested) => inner.AgreeToStop(requested);

        public void AfterSave() => inner.AfterSave();
    }
}
