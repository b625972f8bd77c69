using Xent.Optim;
using Xent.Training;
using Xent.Training.Model;

namespace Xent.Tests.Model;

public class TrainingTests
{
    private static (int[] Tokens, int[] Targets) NextTokenBatch(int batch, int seq, int vocab, int seed)
    {
        var random = new Random(seed);
        var tokens = new int[batch * seq];
        var targets = new int[batch * seq];
        for (int b = 0; b < batch; b++)
        {
            // Distinct first tokens, so that no two positions share a context but want different targets.
            int[] text = [b, .. Enumerable.Range(0, seq).Select(_ => random.Next(vocab))];
            for (int t = 0; t < seq; t++)
            {
                tokens[(b * seq) + t] = text[t];
                targets[(b * seq) + t] = text[t + 1];
            }
        }

        return (tokens, targets);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void OverfitsOneBatch_ToNearZeroLoss(bool tied)
    {
        var config = new GptConfig { VocabSize = 16, ContextLength = 8, Layers = 2, Heads = 2, Dim = 32, TieEmbeddings = tied };
        var model = new GptModel(config, seed: 11);
        var (tokens, targets) = NextTokenBatch(4, 8, 16, seed: 12);
        var trainer = new Trainer(model, new TrainerOptions
        {
            Optimizer = new AdamWOptions { WeightDecay = 0 },
            Schedule = new CosineSchedule { WarmupSteps = 10, TotalSteps = 300, MaxLearningRate = 1e-2f, MinLearningRate = 1e-3f },
        });
        float initial = model.Loss(tokens, targets, 4, 8);
        Assert.InRange(initial, Math.Log(16) * 0.97, Math.Log(16) * 1.03);
        TrainStepResult last = default;
        for (int step = 0; step < 300; step++)
        {
            last = trainer.Step(tokens, targets, 4, 8);
            Assert.True(last.Updated);
            Assert.Equal(step, last.Step);
        }

        float final = model.Loss(tokens, targets, 4, 8);
        Assert.True(final < 0.05f, $"loss after 300 steps: {final} (initial {initial}, last step {last.Loss})");
        Assert.Equal(300, trainer.Optimizer.StepCount);
    }

    [Fact]
    public void SameSeed_GivesBitwiseSameTraining_ForOneAndTwoThreads()
    {
        var config = new GptConfig { VocabSize = 40, ContextLength = 16, Layers = 2, Heads = 4, Dim = 32 };
        var (tokens, targets) = NextTokenBatch(4, 16, 40, seed: 21);
        float[] Run(int threads, out GptModel model)
        {
            model = new GptModel(config, seed: 5) { MaxDegreeOfParallelism = threads };
            var trainer = new Trainer(model, new TrainerOptions { Schedule = new CosineSchedule { MaxLearningRate = 3e-3f } });
            var losses = new float[6];
            for (int k = 0; k < losses.Length; k++)
            {
                losses[k] = trainer.Step(tokens, targets, 4, 16).Loss;
            }

            return losses;
        }

        var one = Run(1, out var m1);

        // B T (16 D + 4) floats per layer (the attention probabilities B H T^2 are not kept), 12 B T D + 3 B T besides.
        long n = 4 * 16;
        Assert.Equal(4 * ((2 * n * ((16 * 32) + 4)) + (12 * n * 32) + (3 * n)), m1.ActivationBytes);
        var two = Run(2, out var m2);
        Assert.Equal(one, two);
        Assert.True(one[^1] < one[0]);
        for (int k = 0; k < m1.Parameters.Count; k++)
        {
            Assert.Equal(m1.Parameters[k].Data, m2.Parameters[k].Data);
        }
    }

    [Fact]
    public void NextTokenLogits_MatchTheLossOfTheLastPosition()
    {
        var config = new GptConfig { VocabSize = 13, ContextLength = 6, Layers = 1, Heads = 2, Dim = 8 };
        var model = new GptModel(config, seed: 2);
        int[] context = [3, 1, 4, 1, 5];
        var logits = new float[13];
        model.NextTokenLogits(context, logits);
        double max = logits.Max();
        double lse = max + Math.Log(logits.Sum(z => Math.Exp(z - max)));

        // Only the last position kept: the loss is -log softmax(logits)[target].
        int[] targets = [-100, -100, -100, -100, 9];
        float loss = model.Loss(context, targets, 1, 5);
        Assert.Equal(lse - logits[9], loss, 1e-5);
    }

    [Fact]
    public void NonFiniteLoss_SkipsTheUpdate()
    {
        var model = new GptModel(new GptConfig { VocabSize = 8, ContextLength = 4, Layers = 1, Heads = 1, Dim = 4 }, seed: 1);
        var trainer = new Trainer(model);
        model.Parameters[0].Data[0] = float.NaN;
        var before = model.Parameters.Select(p => (float[])p.Data.Clone()).ToArray();
        var result = trainer.Step([0, 1, 2, 3], [1, 2, 3, 4], 1, 4);
        Assert.False(result.Updated);
        Assert.Equal(0, trainer.Optimizer.StepCount);
        for (int k = 1; k < before.Length; k++)
        {
            Assert.Equal(before[k], model.Parameters[k].Data);
        }
    }

    // Refused when the trainer is made, not at the first step after a forward and backward pass (the schedule), or
    // never: a NaN clip norm failed the test "> 0" and trained unclipped.
    [Theory]
    [InlineData("MaxGradientNorm")]
    [InlineData("MaxLearningRate")]
    [InlineData("MinLearningRate")]
    [InlineData("Beta2")]
    public void BadTrainerOptions_AreRefusedByTheConstructor_NamingTheSetting(string setting)
    {
        var defaults = new TrainerOptions();
        var options = setting switch
        {
            "MaxGradientNorm" => defaults with { MaxGradientNorm = float.NaN },
            "MaxLearningRate" => defaults with { Schedule = defaults.Schedule with { MaxLearningRate = float.NaN } },
            "MinLearningRate" => defaults with { Schedule = defaults.Schedule with { MinLearningRate = -1e-4f } },
            _ => defaults with { Optimizer = defaults.Optimizer with { Beta2 = 1f } },
        };
        var model = new GptModel(new GptConfig { VocabSize = 8, ContextLength = 4, Layers = 1, Heads = 1, Dim = 4 }, seed: 1);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Trainer(model, options));
        Assert.Equal(setting, e.ParamName);
        Assert.Equal(setting, Assert.Throws<ArgumentOutOfRangeException>(options.Validate).ParamName);
    }

    [Fact]
    public void BadInput_ThrowsClearly()
    {
        Assert.Throws<ArgumentException>(() => new GptConfig { Dim = 10, Heads = 4 }.Validate());
        Assert.Throws<ArgumentException>(() => new GptModel(new GptConfig { VocabSize = 0 }, 1));
        var model = new GptModel(new GptConfig { VocabSize = 8, ContextLength = 4, Layers = 1, Heads = 1, Dim = 4 }, seed: 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Loss([0, 1, 2, 3, 4], [0, 1, 2, 3, 4], 1, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Loss([0, 1, 8, 3], [0, 1, 2, 3], 1, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.ForwardBackward([0, 1, 2, 3], [0, 1, 2, 9], 1, 4));
        Assert.Throws<ArgumentException>(() => model.Loss([0, 1, 2], [0, 1, 2, 3], 1, 4));
        Assert.Throws<ArgumentException>(() => model.NextTokenLogits([0, 1], new float[7]));
    }

    [Fact]
    public void Parameters_HaveTheDocumentedNamesAndShapes()
    {
        var model = new GptModel(new GptConfig { VocabSize = 10, ContextLength = 7, Layers = 2, Heads = 2, Dim = 6, TieEmbeddings = false }, 1);
        var byName = model.Parameters.ToDictionary(p => p.Name, p => p.Shape);
        Assert.Equal(2 + (2 * 12) + 2 + 1, model.Parameters.Count);
        Assert.Equal([10, 6], byName["wte"]);
        Assert.Equal([7, 6], byName["wpe"]);
        Assert.Equal([18, 6], byName["h.1.attn.c_attn.weight"]);
        Assert.Equal([6, 24], byName["h.0.mlp.c_proj.weight"]);
        Assert.Equal([24], byName["h.0.mlp.c_fc.bias"]);
        Assert.Equal([10, 6], byName["lm_head"]);
        long perBlock = (4 * 6) + (3 * 36) + (3 * 6) + 36 + 6 + (4 * 36) + 24 + (4 * 36) + 6;
        Assert.Equal((2 * 60) + 42 + (2 * perBlock) + 12, model.ParameterCount);

        // GPT-2 init: gains 1, biases 0, weights with std about 0.02, residual projections smaller.
        Assert.All(model.Parameters.Single(p => p.Name == "ln_f.weight").Data, x => Assert.Equal(1f, x));
        Assert.All(model.Parameters.Single(p => p.Name == "h.0.attn.c_attn.bias").Data, x => Assert.Equal(0f, x));
        var big = new GptModel(new GptConfig { VocabSize = 500, Dim = 64, Heads = 4, Layers = 2 }, 3);
        double std = Math.Sqrt(big.Parameters[0].Data.Average(x => (double)x * x));
        Assert.InRange(std, 0.019, 0.021);
        var proj = big.Parameters.Single(p => p.Name == "h.1.mlp.c_proj.weight").Data;
        Assert.InRange(Math.Sqrt(proj.Average(x => (double)x * x)), 0.0095, 0.0105);
    }

    [Fact]
    public void LossOptions_AndHeadFilter_ReachTheHead()
    {
        var config = new GptConfig { VocabSize = 9, ContextLength = 4, Layers = 1, Heads = 2, Dim = 8, TieEmbeddings = false };
        var model = new GptModel(config, seed: 4);
        int[] tokens = [1, 2, 3, 4, 5, 6, 7, 8];
        float plain = model.Loss(tokens, [0, 3, 0, 5, 6, 0, 8, 1], 2, 4);
        float masked = model.Loss(tokens, [-100, 3, -100, 5, 6, -100, 8, 1], 2, 4);
        model.LossOptions = new Xent.CrossEntropyOptions { IgnoreIndex = 0 };
        Assert.Equal(masked, model.Loss(tokens, [0, 3, 0, 5, 6, 0, 8, 1], 2, 4));
        Assert.NotEqual(plain, masked);

        // A filter above every |dL/dz| skips the head's whole backward: lm_head gets no gradient at all.
        model.ForwardBackward(tokens, [1, 3, 2, 5, 6, 4, 8, 1], 2, 4);
        Assert.Contains(model.Parameters[^1].Grad, x => x != 0);
        model.HeadGradientFilter = 1e9f;
        model.ForwardBackward(tokens, [1, 3, 2, 5, 6, 4, 8, 1], 2, 4);
        Assert.Equal("lm_head", model.Parameters[^1].Name);
        Assert.All(model.Parameters[^1].Grad, x => Assert.Equal(0f, x));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.HeadGradientFilter = -1);
    }

    [Fact]
    public void ActivationBuffers_AreReusedAcrossShapes_WithoutChangingResults()
    {
        var config = new GptConfig { VocabSize = 12, ContextLength = 6, Layers = 2, Heads = 2, Dim = 8 };
        var model = new GptModel(config, seed: 6);
        var (tokens, targets) = NextTokenBatch(2, 6, 12, seed: 7);
        float first = model.ForwardBackward(tokens, targets, 2, 6);
        var grads = model.Parameters.Select(p => (float[])p.Grad.Clone()).ToArray();

        // A larger shape reallocates; smaller ones then fit in the same buffers.
        var (bigTokens, bigTargets) = NextTokenBatch(4, 6, 12, seed: 8);
        model.Loss(bigTokens, bigTargets, 4, 6);
        model.NextTokenLogits([1, 2, 3], new float[12]);
        long bytes = model.ActivationBytes;
        Assert.Equal(first, model.ForwardBackward(tokens, targets, 2, 6));
        Assert.Equal(bytes, model.ActivationBytes - (4L * 10 * 4 * 6 * 8));
        for (int k = 0; k < grads.Length; k++)
        {
            Assert.Equal(grads[k], model.Parameters[k].Grad);
        }

        // No layers at all: embeddings, final LayerNorm and the head still train.
        var flat = new GptModel(config with { Layers = 0 }, seed: 1);
        Assert.Equal(2 + 2, flat.Parameters.Count);
        Assert.InRange(flat.ForwardBackward(tokens, targets, 2, 6), Math.Log(12) * 0.97, Math.Log(12) * 1.03);
    }
}
