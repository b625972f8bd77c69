using Xent.Tests.Core;
using Xent.Training;
using Xent.Training.Model;

namespace Xent.Tests.Model;

/// <summary>
/// A training step allocates nothing once its buffers are sized: the layers, the optimizer and the fused loss head
/// alike. One thread (the model's and the optimizer's), so that all the work runs on the calling thread, whose
/// allocations alone are counted; alone in the run (<see cref="RunsAloneCollection"/>): a fused head call
/// that finds the process-wide scratch buffer taken by another test's call makes its own (32 bytes), and beside the
/// linear cross-entropy tests every one of five rounds of 8 steps met that.
/// </summary>
[Collection(nameof(RunsAloneCollection))]
public class TrainingAllocationTests
{
    private const int Steps = 8;

    private const int Rounds = 3;

    [Theory]
    [InlineData(0f)]
    [InlineData(0.1f)]
    public void Step_AllocatesNothing(float dropout)
    {
        var model = new GptModel(new GptConfig { VocabSize = 256, ContextLength = 64, Dropout = dropout }, 1) { MaxDegreeOfParallelism = 1 };
        // The optimizer on one thread too: at its default of all cores its call fell back to the runtime's pool (about
        // 1.6 KB a step) whenever another test held the worker pool, in every round of one CI run.
        var options = new TrainerOptions();
        var trainer = new Trainer(model, options with { Optimizer = options.Optimizer with { MaxDegreeOfParallelism = 1 } });
        const int Batch = 4, Seq = 64;
        int[] tokens = [.. Enumerable.Range(0, Batch * Seq).Select(i => i % 200)];
        int[] targets = [.. tokens.Select(t => (t + 1) % 200)];
        for (int i = 0; i < 3; i++)
        {
            trainer.Step(tokens, targets, Batch, Seq);
        }

        // The fewest bytes of a few rounds (a stray allocation of the runtime lands in one, a per-step one shows in all),
        // each a round's whole, not a step's average (which rounds 7 bytes to 0): the layers' and the matrix products'
        // closures, the global norm's chunks, were about 13 KB a step of this model, and the fused head's call about 1 KB.
        long fewest = long.MaxValue;
        var rounds = new List<long>();
        for (int round = 0; round < Rounds; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < Steps; i++)
            {
                trainer.Step(tokens, targets, Batch, Seq);
            }

            rounds.Add(GC.GetAllocatedBytesForCurrentThread() - before);
            fewest = Math.Min(fewest, rounds[^1]);
        }

        Assert.True(fewest == 0, $"bytes in each round of {Steps} steps: {string.Join(", ", rounds)}");
    }
}
