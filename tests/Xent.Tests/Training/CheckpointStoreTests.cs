using Xent.Training.Checkpoints;
using Xent.Training.Data;
using static Xent.Tests.Training.TinyCheckpoint;

namespace Xent.Tests.Training;

public sealed class CheckpointStoreTests : IDisposable
{
    private readonly string testDir = Directory.CreateTempSubdirectory("xent-ckpt-").FullName;

    public void Dispose() => Directory.Delete(testDir, recursive: true);

    private void Save(CheckpointConfig c, float offset = 0) =>
        CheckpointStore.Save(testDir, c, Tensors(c, offset), Tensors(c, offset + 1000), Tensors(c, offset + 2000), c.Step + 1);

    [Fact]
    public void Round_trip_restores_config_weights_and_optimizer_state()
    {
        var c = Config(7);
        Save(c, 3);
        Assert.True(CheckpointStore.Exists(testDir));
        Checkpoint k = CheckpointStore.Load(testDir, Expected);
        Assert.Equal(c, k.Config with { Model = c.Model, Data = c.Data, Training = c.Training });
        Assert.Equal(c.Model, k.Config.Model);
        Assert.Equal(c.Training, k.Config.Training);
        Assert.Equal(8, k.OptimizerStep);
        Assert.Equal(Tensors(c, 3)[0].Data, k.Weights["wte"].Data);
        Assert.Equal(Tensors(c, 1003)[1].Data, k.M["bias"].Data);
        Assert.Equal(Tensors(c, 2003)[0].Data, k.V["wte"].Data);
        Assert.Null(k.Note);
        Assert.Equal([CheckpointStore.ConfigFile, CheckpointStore.ModelFile], Directory.GetFiles(testDir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Saving_again_replaces_the_checkpoint_whole()
    {
        Save(Config(1), 0);
        Save(Config(2), 50);
        Checkpoint k = CheckpointStore.Load(testDir, Expected);
        Assert.Equal(2, k.Config.Step);
        Assert.Equal(50f, k.Weights["wte"].Data[0]);
    }

    [Fact]
    public void Shape_mismatch_with_the_config_is_one_clear_message()
    {
        Save(Config(1));
        // Same files, but a model that expects D = 6.
        var e = Assert.Throws<TrainingInputException>(() => CheckpointStore.Load(testDir, c => Expected(c with { Model = c.Model with { Dim = 6 } })));
        Assert.Contains("tensor 'wte' has shape [3, 4], the config's model needs [3, 6]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_and_extra_tensors_are_reported()
    {
        Save(Config(1));
        var missing = Assert.Throws<TrainingInputException>(() => CheckpointStore.Load(testDir, c => [.. Expected(c), ("extra", [1])]));
        Assert.Contains("tensor 'extra' is missing", missing.Message, StringComparison.Ordinal);
        var extra = Assert.Throws<TrainingInputException>(() => CheckpointStore.Load(testDir, c => [Expected(c)[0]]));
        Assert.Contains("unexpected tensor(s) 'bias'", extra.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Corrupt_model_file_and_config_are_reported()
    {
        Save(Config(1));
        string model = Path.Combine(testDir, CheckpointStore.ModelFile);
        byte[] bytes = File.ReadAllBytes(model);
        File.WriteAllBytes(model, bytes[..(bytes.Length - 3)]);
        var e = Assert.Throws<TrainingInputException>(() => CheckpointStore.Load(testDir, Expected));
        Assert.Contains("is corrupt", e.Message, StringComparison.Ordinal);

        // A broken config.json beside an intact model: the config inside the model is used, and the note says why.
        File.WriteAllBytes(model, bytes);
        File.WriteAllText(Path.Combine(testDir, CheckpointStore.ConfigFile), "{ not json");
        Checkpoint k = CheckpointStore.Load(testDir, Expected);
        Assert.Equal(1, k.Config.Step);
        Assert.Contains("config.json is not usable", k.Note, StringComparison.Ordinal);

        // Without that copy, the broken config.json is the error.
        var plain = new Dictionary<string, string> { ["format"] = "pt", ["xent.step"] = "1" };
        var tensors = Tensors(Config(1), 0).Concat(Tensors(Config(1), 0).Select(t => t with { Name = "adamw.m." + t.Name }))
            .Concat(Tensors(Config(1), 0).Select(t => t with { Name = "adamw.v." + t.Name })).ToArray();
        File.WriteAllBytes(model, SafeTensorsWriter.Serialize(tensors, plain));
        var bad = Assert.Throws<TrainingInputException>(() => CheckpointStore.Load(testDir, Expected));
        Assert.Contains("is not valid", bad.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Config_behind_the_model_uses_the_models_own_config_and_says_so()
    {
        // What a kill between the two renames of a save leaves: the model of step 3, config.json of step 2.
        Save(Config(2), 7);
        string config = Path.Combine(testDir, CheckpointStore.ConfigFile);
        string older = File.ReadAllText(config);
        Save(Config(3) with { Seed = 11 }, 8);
        File.WriteAllText(config, older);
        Checkpoint k = CheckpointStore.Load(testDir, Expected);
        Assert.Equal(3, k.Config.Step);
        Assert.Equal(11, k.Config.Seed);
        Assert.Equal(8f, k.Weights["wte"].Data[0]);
        Assert.Contains("config.json says step 2, but model.safetensors is a complete checkpoint of step 3", k.Note, StringComparison.Ordinal);
        Assert.Equal(3, CheckpointStore.LoadConfig(testDir).Step);
    }

    [Fact]
    public void Missing_directory_or_files_are_reported()
    {
        var e = Assert.Throws<TrainingInputException>(() => CheckpointStore.Load(Path.Combine(testDir, "nope"), Expected));
        Assert.Contains("does not exist", e.Message, StringComparison.Ordinal);
        var f = Assert.Throws<TrainingInputException>(() => CheckpointStore.Load(testDir, Expected));
        Assert.Contains("config.json is missing", f.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_failed_save_leaves_the_previous_checkpoint_intact()
    {
        Save(Config(1), 0);
        byte[] before = File.ReadAllBytes(Path.Combine(testDir, CheckpointStore.ModelFile));
        var c = Config(2);
        // Moments with the wrong count make Save throw before anything is renamed.
        Assert.Throws<ArgumentException>(() => CheckpointStore.Save(testDir, c, Tensors(c, 9), Tensors(c, 9)[..1], Tensors(c, 9), 1));
        // A tensor whose data does not match its shape fails inside the write of the temp file.
        var broken = Tensors(c, 9);
        broken[1] = broken[1] with { Data = [1f] };
        Assert.Throws<ArgumentException>(() => CheckpointStore.Save(testDir, c, broken, Tensors(c, 9), Tensors(c, 9), 1));
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(testDir, CheckpointStore.ModelFile)));
        Assert.Equal(1, CheckpointStore.Load(testDir, Expected).Config.Step);
        Assert.Equal(2, Directory.GetFiles(testDir).Length);
    }

    [Theory]
    [InlineData(CheckpointStore.ConfigFile)] // renamed second: without the check, model.safetensors was replaced first
    [InlineData(CheckpointStore.ModelFile)]
    public void A_folder_in_the_place_of_a_file_is_refused_before_anything_is_replaced(string name)
    {
        Save(Config(1), 0);
        string blocked = Path.Combine(testDir, name);
        File.Delete(blocked);
        Directory.CreateDirectory(blocked);
        File.WriteAllText(Path.Combine(blocked, "mine.txt"), "kept");
        var before = Snapshot();

        var c = Config(2);
        var e = Assert.Throws<TrainingInputException>(() => Save(c, 50));

        Assert.Contains($"cannot write '{blocked}': a folder of that name is in the way", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, Snapshot());
        Assert.Equal("kept", File.ReadAllText(Path.Combine(blocked, "mine.txt")));
    }

    [Fact]
    public void A_folder_made_while_the_checkpoint_is_written_is_refused_before_anything_is_replaced()
    {
        Save(Config(1), 0);
        var before = Snapshot();
        string config = Path.Combine(testDir, CheckpointStore.ConfigFile);

        // config.json turns into a folder once the first check has passed, while model.safetensors is written.
        TrainingInputException e;
        using (CheckpointFiles.Use(new FolderMaker(config)))
        {
            e = Assert.Throws<TrainingInputException>(() => Save(Config(2), 50));
        }

        Assert.Contains($"cannot write '{config}': a folder of that name is in the way", e.Message, StringComparison.Ordinal);
        Assert.True(Directory.Exists(config));
        Directory.Delete(config);
        File.WriteAllBytes(config, Convert.FromHexString(before[CheckpointStore.ConfigFile]));
        Assert.Equal(before, Snapshot());
    }

    // Every file and folder of the checkpoint directory (temporary files included), with each file's bytes in hex.
    private Dictionary<string, string> Snapshot() =>
        Directory.GetFileSystemEntries(testDir).ToDictionary(
            f => Path.GetFileName(f), f => File.Exists(f) ? Convert.ToHexString(File.ReadAllBytes(f)) : "folder");

    /// <summary>The real file system, which replaces <paramref name="file"/> by a folder when the first file is created.</summary>
    private sealed class FolderMaker(string file) : IFileOperations
    {
        public Stream Create(string path, long size)
        {
            if (File.Exists(file))
            {
                File.Delete(file);
                Directory.CreateDirectory(file);
            }

            return FileOperations.Real.Create(path, size);
        }

        public void Move(string from, string to) => FileOperations.Real.Move(from, to);

        public void Delete(string path) => FileOperations.Real.Delete(path);
    }
}
