using System.Text.Json;
using System.Text.Json.Nodes;
using Xent.Cli.Commands;
using Xent.Training.Checkpoints;
using Xent.Training.Checkpoints.HuggingFace;
using Xent.Training.Data;
using Xent.Training.Runs;

namespace Xent.Tests.Cli;

/// <summary>xent export --format hf of a bpe run: its merges travel with the folder, and --init, sample and eval use them.</summary>
public sealed class BpeExportTests : IDisposable
{
    private const string MergesFile = "xent_bpe_merges.json";
    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public void A_bpe_runs_export_holds_its_merges_and_init_sample_and_eval_use_them()
    {
        // The export wrote no merges: --init refused it, and sample and eval read it with GPT-2's tokenizer or refused.
        var (run, hf, text) = ExportedBpeRun();
        CheckpointConfig config = CheckpointStore.LoadConfig(run);
        var original = Assert.IsType<BpeTokenizer>(CheckpointTokenizer.For(config));
        var stored = JsonNode.Parse(File.ReadAllText(Path.Combine(hf, MergesFile)))!["bpe_merges"]!.AsArray();
        Assert.Equal(config.BpeMerges, [.. stored.Select(m => (string)m!)]);
        Assert.Equal(MergesFile, (string?)JsonNode.Parse(File.ReadAllText(Path.Combine(hf, "config.json")))!["xent_bpe_merges"]);

        // --init: the same ids for the same text as the run's own tokenizer, training and validation split alike.
        TrainingPlan plan = TrainPlanning.From(new TrainSettings { Init = hf, Text = text, Steps = 1, Seq = 8, Out = temp["plan"] });
        var ownData = TokenDataset.FromTextBpe(TextFile.Read(text), original, 8);
        Assert.Equal(ownData.Train, plan.Data.Train);
        Assert.Equal(ownData.Validation, plan.Data.Validation);
        const string Probe = "a naïve fox, 42 lazy dogs and café au lait";
        Assert.Equal(original.Encode(Probe), plan.Data.Tokenizer.Encode(Probe));

        var tune = CliRun.Run("train", "--init", hf, "--text", text, "--out", temp["ft"], "--steps", "1", "--batch", "1", "--seq", "8", "--eval-every", "1");
        Assert.True(tune.ExitCode == 0, tune.Error + tune.Out);
        CheckpointConfig tuned = CheckpointStore.LoadConfig(temp["ft"]);
        Assert.Equal("bpe", tuned.Tokenizer);
        Assert.Equal(config.BpeMerges, tuned.BpeMerges);

        // sample: the export's greedy continuation is the run's own, the prompt encoded and the ids decoded alike.
        string[] greedy = ["--prompt", "the quick", "--tokens", "12", "--temperature", "0"];
        var fromRun = CliRun.Run(["sample", "--checkpoint", run, .. greedy]);
        var fromExport = CliRun.Run(["sample", "--checkpoint", hf, .. greedy]);
        Assert.True(fromExport.ExitCode == 0, fromExport.Error);
        Assert.Equal(fromRun.Out, fromExport.Out);
        Assert.True(CliRun.Run("sample", "--checkpoint", hf, "--tokens", "3").ExitCode == 0, "the default prompt");

        // eval: the strided loss of the run's own ids of the text (window and stride n_positions = 16).
        var eval = CliRun.Run("eval", "--checkpoint", hf, "--text", text, "--json");
        Assert.True(eval.ExitCode == 0, eval.Error);
        var json = JsonDocument.Parse(eval.Out).RootElement;
        int[] ids = original.Encode(File.ReadAllText(text));
        var (nats, predicted) = StridedEvaluation.Loss(Gpt2Checkpoint.Load(hf), ids, 16, 16);
        Assert.Equal(ids.Length - 1, json.GetProperty("tokens").GetInt64());
        Assert.Equal(nats / predicted, json.GetProperty("cross_entropy").GetDouble());
        Assert.Equal(original.ByteCount(ids.AsSpan(1)), json.GetProperty("bytes").GetInt64());
        Assert.Equal("bpe", json.GetProperty("tokenizer").GetString());
    }

    [Fact]
    public void A_bpe_export_whose_merges_are_missing_or_damaged_is_refused_naming_the_file()
    {
        // Learning merges again from --text gave the model's ids to other text; sample and eval printed or scored it.
        var (_, hf, text) = ExportedBpeRun();
        string merges = Path.Combine(hf, MergesFile);
        string good = File.ReadAllText(merges);

        // Still valid JSON and valid merges, one id changed: only the checksum in config.json tells.
        string[] names = [.. JsonNode.Parse(good)!["bpe_merges"]!.AsArray().Select(m => (string)m!)];
        names[^1] = names[^1] == "32 116" ? "32 115" : "32 116";
        File.WriteAllText(merges, new JsonObject { ["bpe_merges"] = new JsonArray([.. names.Select(n => JsonValue.Create(n))]) }.ToJsonString());
        AssertAllRefuse(hf, text, merges, "SHA-256");

        File.WriteAllText(merges, good[..(good.Length / 2)]);
        AssertAllRefuse(hf, text, merges, "SHA-256");

        File.Delete(merges);
        AssertAllRefuse(hf, text, merges, "no such file");
        Assert.False(Directory.Exists(temp["ft"]));
    }

    [Fact]
    public void Vocab_with_init_is_refused_and_a_bpe_for_a_folder_of_hugging_faces_is_learned_to_its_vocab_size()
    {
        // --vocab was ignored: an export fine-tuned in its run's merges, and a folder of Hugging Face's own with
        // --tokenizer bpe in a BPE of 1024 tokens learned on --text, whatever --vocab said.
        var (run, hf, text) = ExportedBpeRun();
        CliRun.Run("train", "--init", hf, "--text", text, "--vocab", "300", "--out", temp["ft"], "--steps", "1", "--batch", "1", "--seq", "8")
            .AssertBadInput("--vocab", "comes from the --init checkpoint");
        Assert.False(Directory.Exists(temp["ft"]));

        string plain = temp["plain"];
        Gpt2Checkpoint.Save(plain, Gpt2Checkpoint.Load(hf));
        CliRun.Run("train", "--init", plain, "--text", text, "--tokenizer", "bpe", "--vocab", "280", "--out", temp["ft"], "--steps", "1", "--batch", "1", "--seq", "8")
            .AssertBadInput("--vocab", "comes from the --init checkpoint");

        // Learned on the same training split to the folder's 280 tokens: the merges of the run the folder came from.
        TrainingPlan plan = TrainPlanning.From(new TrainSettings { Init = plain, Text = text, Tokenizer = "bpe", Steps = 1, Seq = 8, Out = temp["plan"] });
        Assert.Equal(CheckpointStore.LoadConfig(run).BpeMerges, Assert.IsType<BpeTokenizer>(plan.Data.Tokenizer).MergeNames());
    }

    [Fact]
    public void An_export_of_another_tokenizer_over_a_bpe_export_removes_its_merges_file()
    {
        // The earlier export's merges stayed beside a config.json that no longer named them.
        var (_, hf, text) = ExportedBpeRun();
        string other = Path.Combine(hf, MergesFile + ".mine");
        File.WriteAllText(other, "kept");
        string bytesRun = temp["bytes"];
        var train = TrainCommandTests.Train(bytesRun, "--steps", "1", "--eval-every", "1", "--text", text, "--tokenizer", "bytes");
        Assert.True(train.ExitCode == 0, train.Error + train.Out);

        var export = CliRun.Run("export", "--format", "hf", "--checkpoint", bytesRun, "--out", hf);
        Assert.True(export.ExitCode == 0, export.Error);
        Assert.False(File.Exists(Path.Combine(hf, MergesFile)));
        Assert.Equal("kept", File.ReadAllText(other));
        Assert.Equal("bytes", (string?)JsonNode.Parse(File.ReadAllText(Path.Combine(hf, "config.json")))!["xent_tokenizer"]);
        Assert.True(CliRun.Run("sample", "--checkpoint", hf, "--tokens", "3").ExitCode == 0);
    }

    [Fact]
    public void Bpe_dropout_with_init_of_a_bpe_export_drops_from_its_merges_and_is_refused_without_merges()
    {
        // --bpe-dropout was refused with --init whatever the folder held, though a bpe export's merges are fixed and
        // dropout only skips some of them while encoding.
        var (run, hf, text) = ExportedBpeRun();
        var original = Assert.IsType<BpeTokenizer>(CheckpointTokenizer.For(CheckpointStore.LoadConfig(run)));
        TrainingPlan plan = TrainPlanning.From(new TrainSettings { Init = hf, Text = text, BpeDropout = 0.3, Steps = 1, Seq = 8, Out = temp["plan"] });
        var expected = TokenDataset.FromTextBpe(TextFile.Read(text), original, 8, 0.3);
        Assert.Equal(0.3, plan.Data.BpeDropout);
        Assert.Equal(expected.TrainSamples, plan.Data.TrainSamples);
        Assert.NotEqual(plan.Data.Train.Length, plan.Data.TrainSamples.Length);
        Assert.Equal(expected.Validation, plan.Data.Validation);

        var tune = CliRun.Run("train", "--init", hf, "--text", text, "--bpe-dropout", "0.3", "--out", temp["ft"], "--steps", "1", "--batch", "1", "--seq", "8", "--eval-every", "1");
        Assert.True(tune.ExitCode == 0, tune.Error + tune.Out);
        Assert.Equal(0.3, CheckpointStore.LoadConfig(temp["ft"]).Data.BpeDropout);

        // A folder in GPT-2's tokens has no merges of its own to drop from.
        string plain = temp["plain"];
        Gpt2Checkpoint.Save(plain, Gpt2Checkpoint.Load(hf));
        CliRun.Run("train", "--init", plain, "--text", text, "--bpe-dropout", "0.1", "--out", temp["ft2"], "--steps", "1", "--batch", "1", "--seq", "8")
            .AssertBadInput("--bpe-dropout", "the gpt2 tokenizer, which has no merges to drop");
    }

    private void AssertAllRefuse(string hf, string text, string file, string problem)
    {
        CliRun.Run("train", "--init", hf, "--text", text, "--out", temp["ft"], "--steps", "1", "--batch", "1", "--seq", "8").AssertBadInput(file, problem);
        CliRun.Run("sample", "--checkpoint", hf, "--tokens", "3").AssertBadInput(file, problem);
        CliRun.Run("eval", "--checkpoint", hf, "--text", text).AssertBadInput(file, problem);
    }

    // A tiny run of a learned BPE of 280 tokens on a short text, and its export.
    private (string Run, string Hf, string Text) ExportedBpeRun()
    {
        string text = temp["t.txt"];
        File.WriteAllText(text, string.Concat(Enumerable.Range(0, 40).Select(i => $"the quick brown fox {i % 5} jumps over the lazy dog, naïve café. ")));
        string run = temp["run"];
        var train = TrainCommandTests.Train(run, "--steps", "2", "--eval-every", "2", "--text", text, "--tokenizer", "bpe", "--vocab", "280");
        Assert.True(train.ExitCode == 0, train.Error + train.Out);
        string hf = temp["hf"];
        var export = CliRun.Run("export", "--format", "hf", "--checkpoint", run, "--out", hf);
        Assert.True(export.ExitCode == 0, export.Error);
        Assert.Contains($"wrote {Path.Combine(hf, "config.json")}, model.safetensors and {MergesFile} from step", export.Out, StringComparison.Ordinal);
        return (run, hf, text);
    }
}
