using Xent.Distributed.InProcess;
using Xent.Distributed.Training;
using Xent.Training;
using Xent.Training.Model;

namespace Xent.Tests.Distributed;

/// <summary>
/// Data-parallel gradients on in-process ranks: the global batch split across 2 and 3 ranks, with and without
/// micro-batches, gives the one-process gradient of the whole batch, also when the ignored targets are unevenly
/// spread (a mean of per-rank means would not); and K-rank training follows the one-process run.
/// </summary>
public class DataParallelTests
{
    private const int Batch = 5, Seq = 8;
    private static readonly GptConfig Config = new() { VocabSize = 24, ContextLength = Seq, Layers = 1, Heads = 2, Dim = 16 };

    private static (int[] Tokens, int[] Targets) Data(int seed)
    {
        var random = new Random(seed);
        var tokens = Enumerable.Range(0, Batch * Seq).Select(_ => random.Next(Config.VocabSize)).ToArray();
        var targets = Enumerable.Range(0, Batch * Seq).Select(_ => random.Next(Config.VocabSize)).ToArray();

        // Most of the first sequence is ignored: its rank's mean is over far fewer tokens than the others'.
        for (int t = 0; t < Seq - 2; t++)
        {
            targets[t] = -100;
        }

        return (tokens, targets);
    }

    // With dropout the ranks' masks must be the whole batch's (drawn by global position): else the gradients differ.
    [Theory]
    [InlineData(2, 1, 0f)]
    [InlineData(3, 1, 0f)]
    [InlineData(2, 2, 0f)]
    [InlineData(1, 3, 0f)]
    [InlineData(2, 1, 0.3f)]
    [InlineData(3, 2, 0.3f)]
    public void Gradients_AreTheWholeBatchs(int ranks, int accumulate, float dropout)
    {
        const long step = 3;
        var (tokens, targets) = Data(1);
        var config = Config with { Dropout = dropout };
        var single = new GptModel(config, 7);
        float expectedLoss = single.ForwardBackward(tokens, targets, Batch, Seq, step);
        var results = new float[ranks][][];
        var losses = new float[ranks];
        InProcessGroup.Run(ranks, c =>
        {
            var model = new GptModel(config, 7);
            losses[c.Rank] = new DataParallelGradients(c, model).ForwardBackward(tokens, targets, Batch, Seq, accumulate, step);
            results[c.Rank] = [.. model.Parameters.Select(p => (float[])p.Grad.Clone())];
        });

        for (int r = 0; r < ranks; r++)
        {
            Assert.Equal(BitConverter.SingleToInt32Bits(losses[0]), BitConverter.SingleToInt32Bits(losses[r]));
            for (int i = 0; i < results[0].Length; i++)
            {
                Assert.Equal(results[0][i], results[r][i]); // bitwise the same on every rank
            }
        }

        Assert.True(Math.Abs(losses[0] - expectedLoss) <= 1e-6 * Math.Abs(expectedLoss), $"loss {losses[0]} vs one process {expectedLoss}");
        for (int i = 0; i < single.Parameters.Count; i++)
        {
            var e = single.Parameters[i].Grad;
            double scale = e.Max(x => Math.Abs(x));
            for (int j = 0; j < e.Length; j++)
            {
                Assert.True(Math.Abs(results[0][i][j] - e[j]) <= 1e-5 * (Math.Abs(e[j]) + scale),
                    $"{single.Parameters[i].Name}[{j}]: one process {e[j]}, {ranks} ranks x {accumulate} micro-batches {results[0][i][j]}");
            }
        }
    }

    [Fact]
    public void Training_FollowsTheOneProcessRun_ReplicasStayIdentical()
    {
        const int steps = 6, ranks = 3;
        var options = new TrainerOptions();
        var single = new Trainer(new GptModel(Config, 3), options);
        var expected = new float[steps];
        for (int s = 0; s < steps; s++)
        {
            var (tokens, targets) = Data(100 + s);
            expected[s] = single.Step(tokens, targets, Batch, Seq).Loss;
        }

        var curves = new float[ranks][];
        var finals = new float[ranks][];
        InProcessGroup.Run(ranks, c =>
        {
            var trainer = new Trainer(new GptModel(Config, 3), options);
            var gradients = new DataParallelGradients(c, trainer.Model);
            curves[c.Rank] = new float[steps];
            for (int s = 0; s < steps; s++)
            {
                var (tokens, targets) = Data(100 + s);
                var result = trainer.Apply(gradients.ForwardBackward(tokens, targets, Batch, Seq));
                Assert.True(result.Updated);
                curves[c.Rank][s] = result.Loss;
            }

            finals[c.Rank] = trainer.Model.Parameters[0].Data;
        });

        for (int r = 1; r < ranks; r++)
        {
            Assert.Equal(curves[0], curves[r]);
            Assert.Equal(finals[0], finals[r]);
        }

        for (int s = 0; s < steps; s++)
        {
            Assert.True(Math.Abs(curves[0][s] - expected[s]) <= 1e-4 * expected[s], $"step {s}: one process {expected[s]}, {ranks} ranks {curves[0][s]}");
        }

        Assert.True(expected[^1] < expected[0], "the one-process run did not learn");
    }

    [Fact]
    public void EveryTargetIgnored_NaNLoss_ZeroGradients()
    {
        var tokens = new int[Batch * Seq];
        var targets = Enumerable.Repeat(-100, Batch * Seq).ToArray();
        InProcessGroup.Run(2, c =>
        {
            var model = new GptModel(Config, 1);
            Assert.True(float.IsNaN(new DataParallelGradients(c, model).ForwardBackward(tokens, targets, Batch, Seq)));
            Assert.All(model.Parameters, p => Assert.All(p.Grad, g => Assert.Equal(0f, g)));
        });
    }
}
