using System.Text;
using Xent.Training.Checkpoints;
using Xent.Training.Data;
using static Xent.Tests.Training.TinyCheckpoint;

namespace Xent.Tests.Training;

/// <summary>
/// A checkpoint whose bytes changed after it was saved (bit rot, a damaged copy of the same length) is refused when
/// loaded, naming the file, while one of the format before checksums (none in its metadata) still loads.
/// </summary>
public sealed class CheckpointChecksumTests : IDisposable
{
    private readonly string testDir = Directory.CreateTempSubdirectory("xent-ckpt-sum-").FullName;

    public void Dispose() => Directory.Delete(testDir, recursive: true);

    // docs/training.md names the key.
    private const string Checksum = "xent.xxh3";

    private string Model => Path.Combine(testDir, CheckpointStore.ModelFile);

    private void Save(CheckpointConfig c) =>
        CheckpointStore.Save(testDir, c, Tensors(c, 0), Tensors(c, 1000), Tensors(c, 2000), c.Step);

    [Fact]
    public void A_flipped_bit_in_the_tensor_data_is_refused_naming_the_file()
    {
        Save(Config(3));
        byte[] bytes = File.ReadAllBytes(Model);
        // The last byte is the sign and high exponent bits of the last second moment: still a finite float when flipped.
        bytes[^1] ^= 0x01;
        File.WriteAllBytes(Model, bytes);

        var e = Assert.Throws<TrainingInputException>(() => CheckpointStore.Load(testDir, Expected));
        Assert.Contains($"'{Model}'", e.Message, StringComparison.Ordinal);
        Assert.Contains("checksum", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_flipped_bit_in_the_metadata_is_refused()
    {
        Save(Config(3) with { Training = Config(3).Training with { LearningRate = 0.001 } });
        byte[] bytes = File.ReadAllBytes(Model);
        // "learning_rate":0.001 -> 0.003 inside the config the model file carries: one bit, still valid JSON.
        byte[] lr = Encoding.UTF8.GetBytes("0.001");
        int at = bytes.AsSpan().IndexOf(lr);
        Assert.True(at > 0);
        bytes[at + 4] ^= 0x02;
        File.WriteAllBytes(Model, bytes);
        File.Delete(Path.Combine(testDir, CheckpointStore.ConfigFile));

        var e = Assert.Throws<TrainingInputException>(() => CheckpointStore.Load(testDir, Expected));
        Assert.Contains("checksum", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_config_json_that_differs_from_the_models_copy_is_used_with_a_note()
    {
        var c = Config(3) with { Training = Config(3).Training with { LearningRate = 0.001 } };
        Save(c);
        Assert.Null(CheckpointStore.ResolveConfig(testDir).Note);

        // One bit of config.json flipped, still valid JSON of the same step: 0.001 -> 0.003. config.json is the copy
        // users edit, so it is used, but not without a word.
        string path = Path.Combine(testDir, CheckpointStore.ConfigFile);
        string json = File.ReadAllText(path);
        Assert.Contains("0.001", json, StringComparison.Ordinal);
        File.WriteAllText(path, json.Replace("0.001", "0.003", StringComparison.Ordinal));

        var (config, note, source) = CheckpointStore.ResolveConfig(testDir);
        Assert.Equal(0.003, config.Training.LearningRate);
        Assert.Equal(path, source);
        Assert.NotNull(note);
        Assert.Contains("differs from the config saved inside", note, StringComparison.Ordinal);
    }

    [Fact]
    public void A_checkpoint_saved_without_a_checksum_still_loads()
    {
        var c = Config(2);
        Save(c);
        // The same checkpoint as a save before checksums wrote it: its metadata without the checksum.
        var (tensors, metadata) = SafeTensorsReader.ReadFile(Model);
        Assert.True(metadata.ContainsKey(Checksum));
        var old = metadata.Where(kv => kv.Key != Checksum).ToDictionary();
        File.WriteAllBytes(Model, SafeTensorsWriter.Serialize(tensors, old));

        Checkpoint k = CheckpointStore.Load(testDir, Expected);
        Assert.Equal(Tensors(c, 1000)[1].Data, k.M["bias"].Data);
    }

    [Fact]
    public void A_saved_checkpoint_carries_a_checksum_that_loads()
    {
        var c = Config(4);
        Save(c);
        var (_, metadata) = SafeTensorsReader.ReadFile(Model);
        Assert.Matches("^[0-9a-f]{16}$", metadata[Checksum]);
        Assert.Equal(Tensors(c, 2000)[0].Data, CheckpointStore.Load(testDir, Expected).V["wte"].Data);
    }
}
