using System.Text.Json;

using Xent.Tests.Cli;
using Xent.Training;
using Xent.Training.Checkpoints;
using Xent.Training.Data;
using Xent.Training.Model;
using Xent.Training.Runs;

namespace Xent.Tests.Training;

public sealed class TrainingLoopTests : IDisposable
{
    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    private static TrainingPlan Tiny(string outDir, int steps)
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
            EvalEvery = 100,
        };
    }

    /// <summary>Runs <paramref name="plan"/>, cancelling once <paramref name="stopAfter"/> steps are done.</summary>
    private static TrainingOutcome Run(TrainingPlan plan, long stopAfter = long.MaxValue)
    {
        using var stop = new CancellationTokenSource();
        return new TrainingLoop(plan).Run(new StopAfter(stopAfter, stop), stop.Token);
    }

    private sealed class StopAfter(long steps, CancellationTokenSource stop) : ITrainingProgress
    {
        public void OnStep(StepReport report)
        {
            if (report.Step >= steps)
            {
                stop.Cancel();
            }
        }
    }

    private sealed class RemoveFolderAfter(long steps, string folder) : ITrainingProgress
    {
        public void OnStep(StepReport report)
        {
            if (report.Step == steps)
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    [Fact]
    public void A_run_folder_removed_during_the_run_fails_the_next_save_and_is_not_made_again()
    {
        string dir = temp["removed"];
        var loop = new TrainingLoop(Tiny(dir, 6) with { EvalEvery = 2 });
        var e = Assert.Throws<TrainingInputException>(() => loop.Run(new RemoveFolderAfter(1, dir), CancellationToken.None));
        Assert.Contains("saving the checkpoint of step 2: the run folder", e.Message, StringComparison.Ordinal);
        Assert.Contains("was removed during the run", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(dir));
    }

    [Fact]
    public void A_lock_the_caller_took_is_used_and_must_be_on_the_run_folder()
    {
        string dir = temp["locked"];
        using (var held = RunFolderLock.Acquire(dir, "preparing"))
        {
            var e = Assert.Throws<ArgumentException>(() => new TrainingLoop(Tiny(temp["other"], 2), folderLock: held));
            Assert.Equal("folderLock", e.ParamName);
            Assert.Equal(TrainingStatus.Completed, new TrainingLoop(Tiny(dir + Path.DirectorySeparatorChar, 2), folderLock: held).Run().Status);

            // Still the caller's until it lets go.
            Assert.Throws<RunFolderInUseException>(() => RunFolderLock.Acquire(dir, "another run"));
        }

        RunFolderLock.Acquire(dir, "after").Dispose();
    }

    [Fact]
    public void A_resume_whose_checkpoint_another_run_replaced_after_loading_is_refused_and_writes_nothing()
    {
        string dir = temp["raced"];
        Assert.Equal(2, Run(Tiny(dir, 6), stopAfter: 2).CheckpointStep);

        // Loaded without the folder's lock (named relative, as a user types it); then another run resumes the same
        // checkpoint and saves at step 4.
        string given = Path.GetRelativePath(Environment.CurrentDirectory, dir);
        Assert.NotEqual(Path.GetFullPath(given), given);
        TrainingPlan stale = TrainingPlan.Resumed(given) with { EvalEvery = 100 };
        Assert.Equal(4, Run(TrainingPlan.Resumed(dir) with { EvalEvery = 100 }, stopAfter: 4).CheckpointStep);
        string[] files = [CheckpointStore.ModelFile, CheckpointStore.ConfigFile, MetricsLog.FileName, RunSummary.FileName];
        byte[][] before = [.. files.Select(f => File.ReadAllBytes(Path.Combine(dir, f)))];

        var e = Assert.Throws<TrainingInputException>(() => Run(stale));
        Assert.Contains($"The checkpoint in '{given}' changed after it was loaded at step 2: it is now at step 4", e.Message, StringComparison.Ordinal);
        for (int i = 0; i < files.Length; i++)
        {
            Assert.True(before[i].AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(dir, files[i]))), files[i]);
        }

        // The lock was let go: the folder resumes from its own step 4; the stale plan still runs into another folder.
        var again = Run(TrainingPlan.Resumed(dir) with { EvalEvery = 100 });
        Assert.Equal((4, 6), (again.StartStep, again.FinalStep));
        var elsewhere = Run(stale with { OutDir = temp["elsewhere"] });
        Assert.Equal((2, 6, TrainingStatus.Completed), (elsewhere.StartStep, elsewhere.FinalStep, elsewhere.Status));
    }

    [Fact]
    public void Stopped_and_resumed_run_ends_bitwise_equal_to_an_uninterrupted_one()
    {
        string whole = temp["whole"], split = temp["split"];
        var a = Run(Tiny(whole, 6));
        Assert.Equal(TrainingStatus.Completed, a.Status);

        var b = Run(Tiny(split, 6), stopAfter: 3);
        Assert.Equal(TrainingStatus.Interrupted, b.Status);
        Assert.Equal(3, b.FinalStep);
        Assert.Equal(3, b.CheckpointStep);

        var c = Run(TrainingPlan.Resumed(split) with { EvalEvery = 100 });
        Assert.Equal(TrainingStatus.Completed, c.Status);
        Assert.Equal(3, c.StartStep);
        Assert.Equal(6, c.FinalStep);

        // Same weights, same AdamW moments and step: the resumed run replays the same batches and schedule.
        var (wa, ma) = SafeTensorsReader.ReadFile(Path.Combine(whole, CheckpointStore.ModelFile));
        var (wc, mc) = SafeTensorsReader.ReadFile(Path.Combine(split, CheckpointStore.ModelFile));
        Assert.Equal(wa.Select(t => t.Name), wc.Select(t => t.Name));
        for (int i = 0; i < wa.Count; i++)
        {
            Assert.True(wa[i].Data.AsSpan().SequenceEqual(wc[i].Data), wa[i].Name);
        }

        Assert.Equal(ma["adamw.step"], mc["adamw.step"]);
        Assert.Equal(a.FinalValLoss, c.FinalValLoss);
        Assert.Equal(Enumerable.Range(1, 6).Select(i => (long)i), MetricsLog.Read(Path.Combine(split, MetricsLog.FileName)).Select(r => r.Step));

        // summary.json counts the whole run's tokens, the resumed segment's beside them.
        using var wholeSummary = JsonDocument.Parse(File.ReadAllText(Path.Combine(whole, RunSummary.FileName)));
        using var splitSummary = JsonDocument.Parse(File.ReadAllText(Path.Combine(split, RunSummary.FileName)));
        long tokensPerStep = 2L * Tiny(split, 6).Seq;
        Assert.Equal(6 * tokensPerStep, wholeSummary.RootElement.GetProperty("tokens_trained").GetInt64());
        Assert.Equal(6 * tokensPerStep, splitSummary.RootElement.GetProperty("tokens_trained").GetInt64());
        Assert.Equal(3 * tokensPerStep, splitSummary.RootElement.GetProperty("segment_tokens_trained").GetInt64());
        Assert.Equal(6, splitSummary.RootElement.GetProperty("steps").GetInt64());
    }

    [Fact]
    public void Stopped_and_resumed_run_with_early_stop_stops_where_an_uninterrupted_one_does()
    {
        // --early-stop's patience spent before the stop counts after the resume: the resumed run stopped as soon as the
        // uninterrupted one, not a whole patience of evaluations later.
        string whole = temp["early-whole"], split = temp["early-split"];
        TrainingPlan Plan(string dir) => Tiny(dir, 40) with { EvalEvery = 1, EarlyStop = 3, LearningRate = 0.1 };
        var a = Run(Plan(whole));
        Assert.True(a.StoppedEarly);
        long bestStep = a.BestStep!.Value;
        Assert.Equal(bestStep + 3, a.FinalStep);

        // Stopped one evaluation past the best: one of the three spent.
        var b = Run(Plan(split), stopAfter: bestStep + 1);
        Assert.Equal(bestStep + 1, b.CheckpointStep);
        var c = Run(TrainingPlan.Resumed(split) with { EvalEvery = 1, EarlyStop = 3 });
        Assert.True(c.StoppedEarly);
        Assert.Equal((a.FinalStep, a.BestStep, a.FinalValLoss), (c.FinalStep, c.BestStep, c.FinalValLoss));
        Assert.Equal(File.ReadAllBytes(Path.Combine(whole, CheckpointStore.ModelFile)), File.ReadAllBytes(Path.Combine(split, CheckpointStore.ModelFile)));
    }

    [Fact]
    public void The_compile_warm_up_runs_for_small_models_and_leaves_the_run_bitwise_the_same()
    {
        // Dropout draws masks and the second thread takes part, so the warm-up's copy would show in the bits if it shared any state.
        TrainingPlan Plan(string dir) => Tiny(dir, 4) with { Model = Tiny(dir, 4).Model with { Dropout = 0.1f }, Threads = 2 };

        // The machine's memory left and XENT_WARMUP decide nothing here: both are set for this test's flow only.
        TrainingPlan probed = Plan(temp["probe"]);
        long copy = GptMemory.TrainingBytes(probed.Model with { Layers = 1 }, probed.Batch, probed.Seq, resuming: false);
        using (CompileWarmup.OverrideAvailableBytes(1L << 40))
        using (CompileWarmup.Override(true))
        {
            Task? probe = CompileWarmup.Start(probed);
            Assert.NotNull(probe);
            CompileWarmup.Wait(probe);
            Assert.Null(CompileWarmup.Start(probed with { TimeBudget = TimeSpan.FromMinutes(1) }));
            Assert.Null(CompileWarmup.Start(probed with { Model = new GptConfig { VocabSize = 50257, Dim = 768, Heads = 12, Layers = 12 } }));

            // The copy may take an eighth of the memory left.
            using (CompileWarmup.OverrideAvailableBytes(8 * copy))
            {
                CompileWarmup.Wait(CompileWarmup.Start(probed) ?? throw new InvalidOperationException("no warm-up with 8x its memory left"));
            }

            using (CompileWarmup.OverrideAvailableBytes((8 * copy) - 8))
            {
                Assert.Null(CompileWarmup.Start(probed));
            }

            using (CompileWarmup.Override(false))
            {
                Assert.Null(CompileWarmup.Start(probed));
            }
        }

        string warm = temp["warm"], cold = temp["cold"];
        TrainingOutcome a, b;
        using (CompileWarmup.OverrideAvailableBytes(1L << 40))
        using (CompileWarmup.Override(true))
        {
            var loop = new TrainingLoop(Plan(warm));
            Assert.True(loop.WarmsUp);
            a = loop.Run();
        }

        using (CompileWarmup.Override(false))
        {
            var loop = new TrainingLoop(Plan(cold));
            Assert.False(loop.WarmsUp);
            b = loop.Run();
        }

        Assert.Equal(TrainingStatus.Completed, a.Status);
        Assert.Equal(a.FinalValLoss, b.FinalValLoss);
        Assert.Equal(File.ReadAllBytes(Path.Combine(warm, CheckpointStore.ModelFile)), File.ReadAllBytes(Path.Combine(cold, CheckpointStore.ModelFile)));
    }

    [Fact]
    public void A_loop_disposed_before_its_run_waits_for_its_compile_warm_up()
    {
        // A caller that stopped before Run (a header it could not print) left the warm-up's work running.
        Task? warmup = null;
        using (CompileWarmup.OverrideAvailableBytes(1L << 40))
        using (CompileWarmup.Override(true))
        using (CompileWarmup.Watch(started => warmup = Slow(started)))
        {
            var loop = new TrainingLoop(Tiny(temp["run"], 2));
            Assert.True(loop.WarmsUp);
            Assert.NotNull(warmup);
            loop.Dispose();
            Assert.True(warmup.IsCompleted);
            loop.Dispose();
        }

        Assert.False(Directory.Exists(temp["run"]));
    }

    // A warm-up made to end half a second after its work, so that a caller which did not wait for it shows.
    private static Task Slow(Task warmup) => Task.WhenAll(warmup, Task.Delay(500));

    [Fact]
    public async Task The_public_compile_warm_up_checks_its_shape_and_reports_a_failed_step()
    {
        var config = new GptConfig { VocabSize = 32, ContextLength = 16, Layers = 2, Dim = 16, Heads = 2 };
        Assert.Throws<ArgumentOutOfRangeException>(() => { _ = CompileWarmup.Start(config, 0, 16); });
        Assert.Throws<ArgumentOutOfRangeException>(() => { _ = CompileWarmup.Start(config, 2, 17); });
        Assert.Throws<ArgumentNullException>(() => { _ = CompileWarmup.Start(null!, 2, 16); });
        await CompileWarmup.Start(config, 2, 16, maxDegreeOfParallelism: 2);

        // A shape the model refuses (D not a multiple of the heads) fails the task, as the step itself would.
        var e = await Assert.ThrowsAsync<ArgumentException>(() => CompileWarmup.Start(config with { Heads = 3 }, 2, 16));
        Assert.Equal("Dim", e.ParamName);
    }
}
