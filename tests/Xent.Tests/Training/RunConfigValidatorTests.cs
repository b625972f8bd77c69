using System.Text.Json.Nodes;
using Xent.Training;
using Xent.Training.Checkpoints;
using Xent.Training.Data;
using Xent.Training.Model;

namespace Xent.Tests.Training;

/// <summary>The one validator of run configs: every field's range, array limits and memory, with messages naming the field as its source spells it.</summary>
public sealed class RunConfigValidatorTests
{
    internal static CheckpointConfig Valid() => new()
    {
        Model = new CheckpointModel { VocabSize = 32, ContextLength = 16, Layers = 2, Heads = 2, Dim = 8 },
        Tokenizer = "markov",
        Seed = 1,
        Step = 3,
        Data = new CheckpointData { Source = "markov", CorpusSeed = 1, TrainTokens = 1000, ValidationTokens = 100 },
        Training = new CheckpointTraining
        {
            Batch = 4,
            Seq = 16,
            TotalSteps = 10,
            WarmupSteps = 1,
            LearningRate = 1e-2,
            MinLearningRate = 0,
            WeightDecay = 0,
            Beta1 = 0.9,
            Beta2 = 0.999,
            Epsilon = 1e-8,
            GradClip = 1,
        },
    };

    [Fact]
    public void A_valid_config_passes() =>
        RunConfigValidator.CheckTraining(Valid(), RunConfigValidator.Flags, resuming: false, available: 1L << 40);

    public static TheoryData<string, string, string> Bad => new()
    {
        { "model.layers", "1000000", "\"model.layers\" is 1000000; it must be between 1 and 4096" },
        { "model.layers", "0", "\"model.layers\" is 0; it must be between 1 and 4096" },
        { "model.heads", "3", "\"model.heads\" is 3, which does not divide the width 8" },
        { "model.context_length", "1", "\"model.context_length\" is 1" },
        { "model.vocab_size", "1", "\"model.vocab_size\" is 1" },
        { "tokenizer", "\"bogus\"", "\"tokenizer\" is 'bogus'; it must be bytes, bpe, gpt2 or markov" },
        { "tokenizer", "\"bytes\"", "\"tokenizer\" is 'bytes' for the data source 'markov'" },
        { "data.train_tokens", "1e12", "\"data.train_tokens\" is 1000000000000; it must be between 17 and 1073741824" },
        { "data.validation_tokens", "3", "\"data.validation_tokens\" is 3" },
        { "training.batch", "0", "\"training.batch\" is 0; it must be between 1 and 65536" },
        { "training.seq", "8", "\"training.seq\" is 8; it must be the model's context length 16" },
        { "training.total_steps", "0", "\"training.total_steps\" is 0" },
        { "training.warmup_steps", "11", "\"training.warmup_steps\" is 11; it must be between 0 and 10" },
        { "training.learning_rate", "-1", "\"training.learning_rate\" is -1; it must be a finite number above 0" },
        { "training.beta2", "1", "\"training.beta2\" is 1" },
        { "training.epsilon", "0", "\"training.epsilon\" is 0" },
        { "training.grad_clip", "-1", "\"training.grad_clip\" is -1" },

        // AdamW and the clip run in float: a value whose float is out of range (1 - 1e-11 is 1f: Adam would divide by
        // 1 - beta^t = 0; 1e-50 is 0f, 1e39 infinity) is refused as the value given.
        { "training.beta1", "0.99999999999", "\"training.beta1\" is 0.99999999999; it must be a number from 0 to below 1 that stays below 1 as a float (at most 0.99999994)" },
        { "training.beta2", "0.99999999999", "\"training.beta2\" is 0.99999999999; it must be a number from 0 to below 1" },
        { "training.epsilon", "1e-50", "\"training.epsilon\" is 1E-50; it must be a finite number above 0 that a float holds" },
        { "training.epsilon", "1e39", "\"training.epsilon\" is 1E+39; it must be a finite number above 0 that a float holds" },
        { "training.grad_clip", "1e39", "\"training.grad_clip\" is 1E+39; it must be 0 (no clipping) or a finite number above 0 that a float holds" },
        { "training.grad_clip", "1e-50", "\"training.grad_clip\" is 1E-50; it must be 0 (no clipping) or" },
        { "step", "11", "\"step\" is 11; it must be between 0 and 10" },
        { "seed", "99999999999", "\"seed\" is 99999999999" },
    };

    [Theory]
    [MemberData(nameof(Bad))]
    public void Each_field_out_of_range_is_refused_naming_the_file_and_field(string field, string value, string expected)
    {
        var json = JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(Valid()))!;
        var parts = field.Split('.');
        JsonNode target = json;
        foreach (string p in parts[..^1])
        {
            target = target[p]!;
        }

        target[parts[^1]] = JsonNode.Parse(value.Replace("1e12", "1000000000000", StringComparison.Ordinal));
        var config = System.Text.Json.JsonSerializer.Deserialize<CheckpointConfig>(json.ToJsonString())!;
        var e = Assert.Throws<TrainingInputException>(() =>
            RunConfigValidator.CheckTraining(config, RunConfigValidator.InFile("run/config.json"), resuming: true, available: 1L << 40));
        Assert.StartsWith("run/config.json: ", e.Message, StringComparison.Ordinal);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Flags_are_named_as_flags()
    {
        var e = Assert.Throws<TrainingInputException>(() =>
            RunConfigValidator.CheckTraining(Valid() with { Training = Valid().Training with { Batch = 0 } }, RunConfigValidator.Flags, resuming: false, available: 1L << 40));
        Assert.Equal("--batch is 0; it must be between 1 and 65536.", e.Message);
    }

    [Fact]
    public void Arrays_beyond_the_array_limit_are_refused_before_memory()
    {
        // --seq 65536: one head's attention of 65536^2 = 2^32 elements.
        var c = Valid() with
        {
            Model = Valid().Model with { ContextLength = 65536, Heads = 4, Dim = 64 },
            Training = Valid().Training with { Seq = 65536, Batch = 16 },
            Data = Valid().Data with { TrainTokens = 1_000_000, ValidationTokens = 100_000 },
        };
        var e = Assert.Throws<TrainingInputException>(() => RunConfigValidator.CheckTraining(c, RunConfigValidator.Flags, resuming: false, available: 1L << 50));
        Assert.Contains("--batch 16 with --seq 65536 need an activation array of 4294967296 elements", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Memory_beyond_what_is_available_is_refused_saying_how_much()
    {
        var c = Valid() with { Model = Valid().Model with { Layers = 120, Dim = 1024, Heads = 8 } };
        long need = GptMemory.TrainingBytes(ModelCheckpoint.ToGptConfig(c.Model), 4, 16, resuming: false);
        var e = Assert.Throws<TrainingInputException>(() => RunConfigValidator.CheckTraining(c, RunConfigValidator.Flags, resuming: false, available: need - 1));
        Assert.Contains($"needs about {GptMemory.Format(need)} of memory, but only {GptMemory.Format(need - 1)} is available", e.Message, StringComparison.Ordinal);
        RunConfigValidator.CheckTraining(c, RunConfigValidator.Flags, resuming: false, available: need);
        Assert.True(GptMemory.AvailableBytes() > 0);
    }

    [Theory]
    [InlineData(true, 1, 8)]
    [InlineData(false, 3, 5)]
    public void The_estimate_counts_what_the_model_allocates(bool tied, int batch, int seq)
    {
        var config = new GptConfig { VocabSize = 11, ContextLength = 8, Layers = 2, Heads = 2, Dim = 6, TieEmbeddings = tied };
        var model = new GptModel(config, 1);
        Assert.Equal(model.ParameterCount, GptMemory.Parameters(config));
        var tokens = Enumerable.Range(0, batch * seq).Select(i => i % 11).ToArray();
        model.ForwardBackward(tokens, tokens, batch, seq);
        Assert.Equal(model.ActivationBytes, 4 * GptMemory.ActivationFloats(config, batch, seq));
    }
}
