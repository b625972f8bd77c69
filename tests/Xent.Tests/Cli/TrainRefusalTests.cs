using System.Text.Json;
using System.Text.Json.Nodes;
using Xent.Training.Checkpoints;
using Xent.Training.Runs;

namespace Xent.Tests.Cli;

/// <summary>
/// Absurd checkpoints and flags through train, --resume, eval and sample: one validator, so each refuses what the
/// others refuse, with exit code 2 and a message naming the file or flag; never a .NET message or an allocation
/// first. Plus metrics.jsonl kept whole across resumes, and NaN results written as valid JSON.
/// </summary>
public sealed class TrainRefusalTests : IDisposable
{
    private readonly TempFolder temp = new();
    private readonly string runDir;
    private readonly string textFile;

    public TrainRefusalTests()
    {
        runDir = temp["run"];
        var trained = TrainCommandTests.Train(runDir, "--steps", "3", "--eval-every", "3");
        Assert.True(trained.ExitCode == 0, trained.Error);
        textFile = temp["symbols.txt"];
        File.WriteAllText(textFile, new string('a', 200));
    }

    public void Dispose() => temp.Dispose();

    public static TheoryData<string, string, string> BadConfigs => new()
    {
        { "model.layers", "1000000", "\"model.layers\" is 1000000; it must be between 1 and 4096" },
        { "tokenizer", "\"bogus\"", "\"tokenizer\" is 'bogus'; it must be bytes, bpe, gpt2 or markov" },
        { "data.train_tokens", "1000000000000", "\"data.train_tokens\" is 1000000000000" },
        { "training.batch", "0", "\"training.batch\" is 0; it must be between 1 and 65536" },
        { "model.context_length", "100000", "\"model.context_length\" is 100000" },
        { "training.learning_rate", "1e39", "\"training.learning_rate\" is 1E+39" },
    };

    [Theory]
    [MemberData(nameof(BadConfigs))]
    public void Resume_eval_and_sample_refuse_the_same_configs(string field, string value, string problem)
    {
        string dir = Edited(field, value);
        string config = Path.Combine(dir, CheckpointStore.ConfigFile);
        CliRun.Run("train", "--resume", dir, "--steps", "9").AssertBadInput(config, problem);
        CliRun.Run("eval", "--checkpoint", dir, "--text", textFile).AssertBadInput(config, problem);
        CliRun.Run("sample", "--checkpoint", dir, "--tokens", "3").AssertBadInput(config, problem);
    }

    [Fact]
    public void Sizes_either_train_or_are_refused_with_a_reason()
    {
        CliRun.Run("train", "--out", temp["s"], "--seq", "65536", "--steps", "1")
            .AssertBadInput("--batch 16 with --seq 65536", "need an activation array of 4294967296 elements");
        CliRun.Run("train", "--out", temp["big"], "--layers", "4000", "--dim", "32768", "--heads", "1", "--steps", "1")
            .AssertBadInput("--dim", "more than");
        CliRun.Run("train", "--out", temp["mem"], "--layers", "4000", "--dim", "4096", "--steps", "1")
            .AssertBadInput("Training this model", "of memory, but only");
        CliRun.Run("train", "--out", temp["b0"], "--batch", "0").AssertBadInput("--batch", "at least 1");
        Assert.False(Directory.Exists(temp["mem"]) && Directory.GetFiles(temp["mem"]).Length > 0, "nothing written before the refusal");
    }

    [Fact]
    public void A_file_given_as_the_output_folder_is_refused()
    {
        File.WriteAllText(temp["file"], "not a folder");
        CliRun.Run(["train", "--out", temp["file"], .. TrainCommandTests.Tiny, "--steps", "1"]).AssertBadInput(temp["file"], "is a file");

        // A trailing separator, or a folder to create inside the file: our words, not .NET's "already exists".
        CliRun.Run(["train", "--out", temp["file"] + "/", .. TrainCommandTests.Tiny, "--steps", "1"]).AssertBadInput(temp["file"], "is a file");
        CliRun.Run(["train", "--out", temp["file"] + "/run", .. TrainCommandTests.Tiny, "--steps", "1"]).AssertBadInput(temp["file"], "is a file, not a folder");
        Assert.Equal("not a folder", File.ReadAllText(temp["file"]));
    }

    [Fact]
    public void A_folder_where_the_metrics_go_is_named_as_a_folder()
    {
        string blocked = Path.Combine(temp["m"], MetricsLog.FileName);
        Directory.CreateDirectory(blocked);
        CliRun.Run(["train", "--out", temp["m"], .. TrainCommandTests.Tiny, "--steps", "1"]).AssertBadInput(blocked, "is a folder");
    }

    [Fact]
    public void A_folder_given_as_text_is_named_as_a_folder() =>
        CliRun.Run(["train", "--out", temp["t"], "--text", temp.Path, .. TrainCommandTests.Tiny]).AssertBadInput(temp.Path, "is a folder");

    [Fact]
    public void A_config_behind_its_model_is_read_from_the_model_with_a_note()
    {
        // As a kill between the two renames of a save leaves it: config.json of an older step.
        PutConfigBehindModel();
        var eval = CliRun.Run("eval", "--checkpoint", runDir, "--last", "--text", textFile, "--json");
        Assert.True(eval.ExitCode == 0, eval.Error);
        Assert.Contains("config.json says step 1, but model.safetensors is a complete checkpoint of step 3", eval.Error, StringComparison.Ordinal);
        Assert.Equal(3, JsonDocument.Parse(eval.Out).RootElement.GetProperty("step").GetInt64());
    }

    /// <summary>Sets the run's config.json (of step 3) to step 1, as a save interrupted between its two renames leaves it.</summary>
    private void PutConfigBehindModel()
    {
        string config = Path.Combine(runDir, CheckpointStore.ConfigFile);
        var json = JsonNode.Parse(File.ReadAllText(config))!;
        json["step"] = 1;
        File.WriteAllText(config, json.ToJsonString());
    }

    [Fact]
    public void A_folder_in_use_is_refused_before_its_checkpoint_is_read()
    {
        // What a run meets while the holder saves: config.json behind model.safetensors between the save's two renames.
        // Locked first, it says only that the folder is in use (no note on the config, no header).
        PutConfigBehindModel();
        using (RunFolderLock.Acquire(runDir, "a run saving its checkpoint"))
        {
            var resume = CliRun.Run("train", "--resume", runDir, "--steps", "9");
            resume.AssertBadInput(runDir, "is in use by another run");
            Assert.Contains("a run saving its checkpoint", resume.Error, StringComparison.Ordinal);
            Assert.Equal("", resume.Out);
            var fresh = CliRun.Run(["train", "--out", runDir, .. TrainCommandTests.Tiny, "--steps", "1"]);
            fresh.AssertBadInput(runDir, "is in use by another run");
            Assert.Equal("", fresh.Out);
        }

        var resumed = CliRun.Run("train", "--resume", runDir, "--steps", "4");
        Assert.True(resumed.ExitCode == 0, resumed.Error);
    }

    [Fact]
    public void Eval_json_with_a_NaN_weight_is_valid_json()
    {
        string dir = temp["nan"];
        Directory.CreateDirectory(dir);
        foreach (string f in Directory.GetFiles(runDir))
        {
            File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        }

        var (tensors, metadata) = SafeTensorsReader.ReadFile(Path.Combine(dir, CheckpointStore.ModelFile));
        tensors.First(t => t.Name == "wte").Data[0] = float.NaN;
        tensors.First(t => t.Name == "wte").Data.AsSpan().Fill(float.NaN);
        // Without the checksum of the file as saved (which the NaNs no longer match), as a checkpoint from before checksums.
        var withoutChecksum = metadata.Where(kv => kv.Key != "xent.xxh3").ToDictionary();
        File.WriteAllBytes(Path.Combine(dir, CheckpointStore.ModelFile), SafeTensorsWriter.Serialize(tensors, withoutChecksum));
        var eval = CliRun.Run("eval", "--checkpoint", dir, "--text", textFile, "--json");
        Assert.True(eval.ExitCode == 0, eval.Error);
        Assert.Equal("NaN", JsonDocument.Parse(eval.Out).RootElement.GetProperty("cross_entropy").GetString());
    }

    [Fact]
    public void Resume_keeps_metrics_and_cuts_them_back_by_replacing_the_file_whole()
    {
        string metrics = Path.Combine(runDir, MetricsLog.FileName);

        // Steps past the checkpoint (3) and a line cut short by a kill, as a killed run leaves them.
        var lines = File.ReadAllLines(metrics).ToList();
        lines.Add(lines[^1].Replace("\"step\":3", "\"step\":4", StringComparison.Ordinal));
        File.WriteAllText(metrics, string.Join('\n', lines) + "\n{\"step\":5,\"lo");
        using (var log = MetricsLog.Open(runDir, 3))
        {
            Assert.Equal([1L, 2, 3], log.Records.Select(r => r.Step));
        }

        Assert.Equal([1L, 2, 3], MetricsLog.Read(metrics).Select(r => r.Step));
        Assert.EndsWith("\n", File.ReadAllText(metrics), StringComparison.Ordinal);

        // A clean log is appended to, not rewritten: its inode stays.
        var before = new FileInfo(metrics).LastWriteTimeUtc;
        string inode = Inode(metrics);
        using (var log = MetricsLog.Open(runDir, 3))
        {
            log.Append(new MetricRecord { Step = 4, Loss = 1 });
        }

        Assert.Equal(inode, Inode(metrics));
        Assert.Equal([1L, 2, 3, 4], MetricsLog.Read(metrics).Select(r => r.Step));
        Assert.True(new FileInfo(metrics).LastWriteTimeUtc >= before);
        Assert.DoesNotContain(Directory.GetFiles(runDir), f => TemporaryFiles.IsTemporary(Path.GetFileName(f)));
    }

    private static string Inode(string path) => Xent.Cli.IO.FileIdentity.Of(path) is { HasInode: true } id ? $"{id.Device}:{id.Inode}" : path;

    private string Edited(string field, string value)
    {
        string dir = temp[$"edit-{field}"];
        Directory.CreateDirectory(dir);
        foreach (string f in Directory.GetFiles(runDir))
        {
            File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        }

        string config = Path.Combine(dir, CheckpointStore.ConfigFile);
        var json = JsonNode.Parse(File.ReadAllText(config))!;
        var parts = field.Split('.');
        JsonNode target = json;
        foreach (string p in parts[..^1])
        {
            target = target[p]!;
        }

        target[parts[^1]] = JsonNode.Parse(value);
        File.WriteAllText(config, json.ToJsonString());
        return dir;
    }
}
