using Xent.Training;
using Xent.Training.Model;

namespace Xent.Tests.Model;

/// <summary>
/// What a training step allocates once its buffers are sized: the layers and the optimizer nothing, the fused loss
/// head's call about 1 KB. One thread (the model's and the optimizer's), so that all the work runs on the calling
/// thread, whose allocations alone are counted (other tests run beside these).
/// </summary>
public class TrainingAllocationTests
{
    // Bytes a step, averaged: the layers' and the matrix products' closures, the global norm's chunks, were about 13 KB
    // a step of this model.
    private const long Bound = 2048;

    private const int Steps = 8;

    private const int Rounds = 3;

    [Theory]
    [InlineData(0f)]
    [InlineData(0.1f)]
    public void Step_AllocatesLittlePerStep(float dropout)
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

        // The fewest of a few rounds: what every step allocates shows in each, while a round that met a call of another
        // test (the fused head's process-wide scratch buffer taken, say) once went over the bound in a full run.
        long perStep = long.MaxValue;
        var rounds = new List<long>();
        for (int round = 0; round < Rounds; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < Steps; i++)
            {
                trainer.Step(tokens, targets, Batch, Seq);
            }

            rounds.Add((GC.GetAllocatedBytesForCurrentThread() - before) / Steps);
            perStep = Math.Min(perStep, rounds[^1]);
        }

        Assert.True(perStep < Bound, $"bytes a step in each round: {string.Join(", ", rounds)}");
    }
}
