using System.Text.Json.Nodes;
using Xent.Tests.Cli;
using Xent.Training.Checkpoints;
using Xent.Training.Data;

namespace Xent.Tests.Training;

/// <summary>
/// A config.json that leaves out a field every config.json has held since the first format (a hand-written or cut
/// one) was read with the field 0: beta1 0, grad_clip 0 (no clipping), weight decay 0, seed 0, tie_embeddings false, all of which the range
/// check accepts, so a resume trained with other settings than the run's. A missing field now makes config.json
/// unusable, naming the file and the field: the copy inside model.safetensors is used (with a note), and without one
/// the checkpoint is refused.
/// </summary>
public sealed class CheckpointConfigRequiredTests : IDisposable
{
    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    [Theory]
    [InlineData("training.beta1")]
    [InlineData("training.beta2")]
    [InlineData("training.epsilon")]
    [InlineData("training.grad_clip")]
    [InlineData("training.weight_decay")]
    [InlineData("training.min_learning_rate")]
    [InlineData("training.warmup_steps")]
    [InlineData("training.batch")]
    [InlineData("model.tie_embeddings")]
    [InlineData("data.corpus_seed")]
    [InlineData("seed")]
    public void A_config_json_without_a_field_is_not_read_as_zero(string field)
    {
        string dir = temp["run"];
        var trained = TrainCommandTests.Train(dir, "--steps", "2", "--eval-every", "2", "--beta1", "0.8", "--grad-clip", "0.5", "--weight-decay", "0.1", "--seed", "7");
        Assert.True(trained.ExitCode == 0, trained.Error);
        CheckpointConfig saved = CheckpointStore.LoadConfig(dir);
        string configPath = Path.Combine(dir, CheckpointStore.ConfigFile);
        Remove(configPath, field);

        var (config, note, source) = CheckpointStore.ResolveConfig(dir);
        Assert.Equal((saved.Training, saved.Seed), (config.Training, config.Seed));
        Assert.Equal(Path.Combine(dir, CheckpointStore.ModelFile), source);
        Assert.Contains($"{configPath} is not usable", note, StringComparison.Ordinal);
        Assert.Contains($"\"{field}\" is missing", note, StringComparison.Ordinal);

        // Without the model's copy there is nothing to fall back on: config.json is refused, naming the field.
        File.Delete(Path.Combine(dir, CheckpointStore.ModelFile));
        var e = Assert.Throws<TrainingInputException>(() => CheckpointStore.ResolveConfig(dir));
        Assert.Contains($"'{configPath}'", e.Message, StringComparison.Ordinal);
        Assert.Contains($"\"{field}\" is missing", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_config_json_without_the_fields_added_later_still_reads_with_their_defaults()
    {
        string dir = temp["run"];
        Assert.Equal(0, TrainCommandTests.Train(dir, "--steps", "2", "--eval-every", "2").ExitCode);
        CheckpointConfig saved = CheckpointStore.LoadConfig(dir);
        string configPath = Path.Combine(dir, CheckpointStore.ConfigFile);
        foreach (string field in new[] { "initial_val_loss", "model.dropout" })
        {
            Remove(configPath, field);
        }

        var (config, note, _) = CheckpointStore.ResolveConfig(dir);
        Assert.Equal(saved.Training, config.Training);
        Assert.Equal(saved.Model, config.Model);
        Assert.Null(config.InitialValLoss);
        Assert.DoesNotContain("is not usable", note ?? "", StringComparison.Ordinal);
    }

    private static void Remove(string configPath, string field)
    {
        var json = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        string[] parts = field.Split('.');
        JsonObject parent = json;
        foreach (string p in parts[..^1])
        {
            parent = parent[p]!.AsObject();
        }

        Assert.True(parent.Remove(parts[^1]), $"config.json has no {field}");
        File.WriteAllText(configPath, json.ToJsonString());
    }
}
