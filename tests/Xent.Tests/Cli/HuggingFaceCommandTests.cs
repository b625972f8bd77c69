using System.Text.Json;
using Xent.Tests.Training.HuggingFace;
using Xent.Training.Checkpoints;
using Xent.Training.Checkpoints.HuggingFace;
using Xent.Training.Data;
using Xent.Training.Model;

namespace Xent.Tests.Cli;

/// <summary>xent eval on Hugging Face GPT-2 folders and xent export --format hf.</summary>
public sealed class HuggingFaceCommandTests : IDisposable
{
    private const string Text = "The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs! ";
    private readonly TempFolder dir = new();

    public void Dispose() => dir.Dispose();

    [Theory]
    [InlineData(16, 16)]
    [InlineData(16, 4)]
    [InlineData(8, 3)]
    public void EvalOfTextIsTheStridedLossOfItsGpt2Tokens(int window, int stride)
    {
        var model = TestHfCheckpoint.RandomModel(TestHfCheckpoint.Small with { VocabSize = 50257 }, 1);
        string hf = dir["hf"];
        TestHfCheckpoint.Write(hf, model, "BF16", prefix: true, buffers: true);
        File.WriteAllText(dir["t.txt"], string.Concat(Enumerable.Repeat(Text, 3)));
        var run = CliRun.Run("eval", "--checkpoint", hf, "--text", dir["t.txt"], "--window", $"{window}", "--stride", $"{stride}", "--json");
        Assert.True(run.ExitCode == 0, run.Error);
        var json = JsonDocument.Parse(run.Out).RootElement;

        int[] tokens = Gpt2Tokenizer.Instance.Encode(File.ReadAllText(dir["t.txt"]));
        var (nats, predicted) = StridedEvaluation.Loss(Gpt2Checkpoint.Load(hf), tokens, window, stride);
        Assert.Equal(predicted, json.GetProperty("tokens").GetInt64());
        Assert.Equal(nats / predicted, json.GetProperty("cross_entropy").GetDouble());
        long bytes = System.Text.Encoding.UTF8.GetByteCount(Gpt2Tokenizer.Instance.Decode(tokens.AsSpan(1)));
        Assert.Equal(bytes, json.GetProperty("bytes").GetInt64());
        Assert.Equal(nats / (Math.Log(2) * bytes), json.GetProperty("bits_per_byte").GetDouble(), 12);
        Assert.Equal("gpt2", json.GetProperty("tokenizer").GetString());
    }

    [Fact]
    public void EvalOfATokenFileWritesTheFirstWindowsLogits()
    {
        var model = TestHfCheckpoint.RandomModel(TestHfCheckpoint.Small, 2);
        string hf = dir["hf"];
        TestHfCheckpoint.Write(hf, model);
        long[] ids = [.. Enumerable.Range(0, 40).Select(i => (long)((i * 13) % 97))];
        var run = CliRun.Run("eval", "--checkpoint", hf, "--tokens", TestNpy.I64(dir["ids.npy"], ids, 40), "--logits-out", dir["l.npy"], "--json");
        Assert.True(run.ExitCode == 0, run.Error);
        var logits = TestNpy.ReadF32(dir["l.npy"], out long[] shape);
        Assert.Equal([16L, 97], shape);
        var expected = new float[97];
        model.NextTokenLogits([.. ids.Take(5).Select(i => (int)i)], expected);
        Assert.Equal(expected, logits.AsSpan(4 * 97, 97).ToArray());
        var (nats, _) = StridedEvaluation.Loss(model, [.. ids.Select(i => (int)i)], 16, 16);
        Assert.Equal(nats / 39, JsonDocument.Parse(run.Out).RootElement.GetProperty("cross_entropy").GetDouble());
    }

    [Fact]
    public void BadHuggingFaceInputExitsTwoNamingTheTensorOrFlag()
    {
        var model = TestHfCheckpoint.RandomModel(TestHfCheckpoint.Small, 3);
        string hf = dir["hf"];
        TestHfCheckpoint.Write(hf, model, editTensors: t => [.. t.Where(x => x.Name != "transformer.h.0.mlp.c_fc.bias")]);
        File.WriteAllText(dir["t.txt"], Text);
        CliRun.Run("eval", "--checkpoint", hf, "--text", dir["t.txt"]).AssertBadInput("model.safetensors", "tensor 'h.0.mlp.c_fc.bias' is missing");

        TestHfCheckpoint.Write(hf, model);
        CliRun.Run("eval", "--checkpoint", hf, "--text", dir["t.txt"]).AssertBadInput(dir["t.txt"], "outside the checkpoint's vocabulary [0, 97)");
        var ids = TestNpy.I64(dir["ids.npy"], [1L, 2, 3], 3);
        CliRun.Run("eval", "--checkpoint", hf, "--tokens", ids, "--stride", "17").AssertBadInput("--stride 17", "longer than the window");
        CliRun.Run("eval", "--checkpoint", hf, "--tokens", ids, "--window", "17").AssertBadInput("--window 17", "n_positions 16");
    }

    [Fact]
    public void SampleAtTemperatureZeroIsTheGreedyContinuation()
    {
        var model = TestHfCheckpoint.RandomModel(TestHfCheckpoint.Small with { VocabSize = 50257 }, 4);
        string hf = dir["hf"];
        TestHfCheckpoint.Write(hf, model);
        var run = CliRun.Run("sample", "--checkpoint", hf, "--prompt", "The fox", "--tokens", "3", "--temperature", "0");
        Assert.True(run.ExitCode == 0, run.Error);

        var tokens = Gpt2Tokenizer.Instance.Encode("The fox").ToList();
        var logits = new float[50257];
        for (int i = 0; i < 3; i++)
        {
            model.NextTokenLogits(tokens.ToArray(), logits);
            tokens.Add(Array.IndexOf(logits, logits.Max()));
        }

        Assert.Equal(Gpt2Tokenizer.Instance.Decode(tokens.ToArray()), run.Out.TrimEnd('\n'));

        TestHfCheckpoint.Write(hf, TestHfCheckpoint.RandomModel(TestHfCheckpoint.Small, 4));
        CliRun.Run("sample", "--checkpoint", hf, "--prompt", "The fox").AssertBadInput("--prompt", "outside the checkpoint's vocabulary [0, 97)");
    }

    [Fact]
    public void AModelPaddedPastGpt2sVocabularyNeverSamplesOrScoresTheBytesOfAPaddedId()
    {
        // nanoGPT pads V to 50304. The final hidden state is ln_f's bias whatever the input, and only the padded rows
        // of the untied head see it: every padded logit is 64, every real one 0. Sampling drew a padded id and
        // printed nothing for it; eval counted 0 bytes for one.
        var model = TestHfCheckpoint.RandomModel(TestHfCheckpoint.Small with { VocabSize = 50304, TieEmbeddings = false }, 8);
        var p = model.Parameters.ToDictionary(x => x.Name);
        Array.Clear(p["ln_f.weight"].Data);
        Array.Fill(p["ln_f.bias"].Data, 1f);
        Array.Clear(p["lm_head"].Data);
        p["lm_head"].Data.AsSpan(50257 * 64).Fill(1f);
        string hf = dir["hf"];
        TestHfCheckpoint.Write(hf, model);

        var greedy = CliRun.Run("sample", "--checkpoint", hf, "--tokens", "3", "--temperature", "0");
        Assert.True(greedy.ExitCode == 0, greedy.Error);
        Assert.Equal("<|endoftext|>!!!", greedy.Out.TrimEnd('\n'));
        var drawn = CliRun.Run("sample", "--checkpoint", hf, "--tokens", "20", "--top-k", "100");
        Assert.True(drawn.ExitCode == 0, drawn.Error);
        Assert.True(drawn.Out.TrimEnd('\n').Length >= "<|endoftext|>".Length + 20, drawn.Out);

        var ids = TestNpy.I64(dir["ids.npy"], [1L, 2, 50300, 3], 4);
        CliRun.Run("eval", "--checkpoint", hf, "--tokens", ids).AssertBadInput(ids, "token 50300 at position 2 is not a GPT-2 token");
    }

    [Fact]
    public void SampleWithTopPOneIsWithoutTopP_AndATinyTopPIsGreedy()
    {
        string hf = dir["hf"];
        TestHfCheckpoint.Write(hf, TestHfCheckpoint.RandomModel(TestHfCheckpoint.Small with { VocabSize = 50257 }, 6));
        string[] line = ["sample", "--checkpoint", hf, "--prompt", "The fox", "--tokens", "8", "--seed", "3"];
        var plain = CliRun.Run(line);
        Assert.True(plain.ExitCode == 0, plain.Error);
        Assert.Equal(plain.Out, CliRun.Run([.. line, "--top-p", "1"]).Out);

        // The nucleus of a tiny p is the most likely token alone, whatever the seed and the temperature.
        var greedy = CliRun.Run([.. line, "--temperature", "0"]);
        var nucleus = CliRun.Run([.. line, "--top-p", "1e-9", "--temperature", "1.5"]);
        Assert.True(nucleus.ExitCode == 0, nucleus.Error);
        Assert.Equal(greedy.Out, nucleus.Out);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-0.5")]
    [InlineData("1.5")]
    [InlineData("NaN")]
    [InlineData("Infinity")]
    public void SampleRefusesATopPOutsideZeroToOne(string topP)
    {
        CliRun.Run("sample", "--checkpoint", dir["hf"], "--top-p", topP).AssertBadInput("--top-p", "must be a number in (0, 1]");
    }

    [Fact]
    public void SampleHelpNamesTopP()
    {
        // Its range's ']' is markup to Spectre: unescaped, --help failed with an internal error.
        var run = CliRun.Run("sample", "--help");
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Contains("--top-p <P>", run.Out, StringComparison.Ordinal);
        Assert.Contains("in (0, 1], 1 for all", string.Join(' ', run.Out.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TrainInitFineTunesFromTheCheckpointsWeights(bool tied)
    {
        var source = TestHfCheckpoint.RandomModel(TestHfCheckpoint.Small with { VocabSize = 50257, TieEmbeddings = tied }, 5);
        string hf = dir["hf"];
        TestHfCheckpoint.Write(hf, source);
        File.WriteAllText(dir["t.txt"], string.Concat(Enumerable.Repeat(Text, 12)));
        var run = CliRun.Run("train", "--init", hf, "--text", dir["t.txt"], "--out", dir["run"], "--steps", "1", "--batch", "1",
            "--seq", "8", "--lr", "1e-9", "--warmup", "0", "--eval-every", "1");
        Assert.True(run.ExitCode == 0, run.Error + run.Out);

        // One AdamW step of 1e-9 moves no weight by more than about 1e-9: the run started from the checkpoint's
        // weights (a random initialisation would differ by ~0.02), the position embedding cut to its first 8 rows.
        var (tuned, checkpoint) = ModelCheckpoint.Load(dir["run"]);
        Assert.Equal("gpt2", checkpoint.Config.Tokenizer);
        Assert.Equal(source.Config with { ContextLength = 8 }, tuned.Config);
        for (int i = 0; i < source.Parameters.Count; i++)
        {
            var before = source.Parameters[i].Data;
            var after = tuned.Parameters[i].Data;
            Assert.Equal(source.Parameters[i].Name == "wpe" ? 8 * 64 : before.Length, after.Length);
            for (int k = 0; k < after.Length; k++)
            {
                Assert.True(Math.Abs(after[k] - before[k]) < 1e-6, $"{source.Parameters[i].Name}[{k}]: {before[k]} -> {after[k]}");
            }
        }
    }

    [Theory]
    [InlineData(null, 0.2f)]
    [InlineData("0.05", 0.05f)]
    public void TrainInitTakesTheCheckpointsDropoutUnlessDropoutIsGiven(string? dropout, float expected)
    {
        string hf = dir["hf"];
        TestHfCheckpoint.Write(hf, TestHfCheckpoint.RandomModel(TestHfCheckpoint.Small with { VocabSize = 50257, Dropout = 0.2f }, 5));
        File.WriteAllText(dir["t.txt"], string.Concat(Enumerable.Repeat(Text, 12)));
        string[] given = dropout is null ? [] : ["--dropout", dropout];
        var run = CliRun.Run(["train", "--init", hf, "--text", dir["t.txt"], "--out", dir["run"], "--steps", "1", "--batch", "1",
            "--seq", "8", "--eval-every", "1", .. given]);
        Assert.True(run.ExitCode == 0, run.Error + run.Out);
        Assert.Equal(expected, ModelCheckpoint.Load(dir["run"]).Model.Config.Dropout);
    }

    [Fact]
    public void TrainInitRefusesWhatTheCheckpointDecides()
    {
        string hf = dir["hf"];
        TestHfCheckpoint.Write(hf, TestHfCheckpoint.RandomModel(TestHfCheckpoint.Small with { VocabSize = 50257 }, 6));
        File.WriteAllText(dir["t.txt"], string.Concat(Enumerable.Repeat(Text, 12)));
        CliRun.Run("train", "--init", hf, "--text", dir["t.txt"], "--dim", "32").AssertBadInput("--dim", "come from the --init checkpoint");
        CliRun.Run("train", "--init", hf).AssertBadInput("--init", "needs --text");
        CliRun.Run("train", "--init", hf, "--text", dir["t.txt"], "--seq", "32").AssertBadInput("--seq 32", "n_positions 16");
        CliRun.Run("train", "--init", hf, "--text", dir["t.txt"], "--tokenizer", "bytes").AssertBadInput("--init", "the bytes tokenizer has 256");
        CliRun.Run("train", "--init", dir["t.txt"], "--text", dir["t.txt"]).AssertBadInput("--init", "not a Hugging Face GPT-2 folder");
        CliRun.Run("train", "--init", hf, "--resume", hf).AssertBadInput("--init", "give one of them");
    }

    [Fact]
    public void TrainInitFineTunesInTheExportsTokenizer_AndRefusesOneItCannotRebuild()
    {
        // --init ignored xent_tokenizer: a bpe run's export with --tokenizer bpe learned new merges from --text, other
        // ids under the same V, and fine-tuned a wrong model without a word. Without its merges file it is refused.
        File.WriteAllText(dir["t.txt"], string.Concat(Enumerable.Repeat(Text, 12)));
        string bpe = dir["bpe"];
        var learned = (BpeTokenizer)TokenDataset.FromTextFile(dir["t.txt"], TokenizerKind.Bpe, 8).Tokenizer;
        Gpt2Checkpoint.Save(bpe, TestHfCheckpoint.RandomModel(TestHfCheckpoint.Small with { VocabSize = learned.VocabSize }, 7), "bpe", learned);
        string merges = Path.Combine(bpe, Gpt2FolderTokenizer.MergesFile);
        File.Delete(merges);
        CliRun.Run("train", "--init", bpe, "--text", dir["t.txt"], "--tokenizer", "bpe", "--out", dir["bpe-run"], "--steps", "1", "--batch", "1", "--seq", "8")
            .AssertBadInput(merges, "no such file");
        CliRun.Run("train", "--init", bpe, "--text", dir["t.txt"]).AssertBadInput(merges, "no such file");
        Assert.False(Directory.Exists(dir["bpe-run"]));

        string markov = dir["markov"];
        Gpt2Checkpoint.Save(markov, TestHfCheckpoint.RandomModel(TestHfCheckpoint.Small with { VocabSize = 32 }, 7), "markov");
        CliRun.Run("train", "--init", markov, "--text", dir["t.txt"]).AssertBadInput(markov, "Markov corpus");

        // A bytes run's export needs nothing but the name: it is fine-tuned in bytes (GPT-2's, by default, was refused
        // for its V), and another tokenizer is refused as a conflict, not for its size.
        string bytes = dir["bytes"];
        Gpt2Checkpoint.Save(bytes, TestHfCheckpoint.RandomModel(TestHfCheckpoint.Small with { VocabSize = 256 }, 7), "bytes");
        var run = CliRun.Run("train", "--init", bytes, "--text", dir["t.txt"], "--out", dir["run"], "--steps", "1", "--batch", "1",
            "--seq", "8", "--eval-every", "1");
        Assert.True(run.ExitCode == 0, run.Error + run.Out);
        Assert.Equal("bytes", ModelCheckpoint.Load(dir["run"]).Checkpoint.Config.Tokenizer);
        CliRun.Run("train", "--init", bytes, "--text", dir["t.txt"], "--tokenizer", "gpt2").AssertBadInput("--tokenizer gpt2", $"--init {bytes}, exported from a run with the bytes tokenizer");

        string gpt2 = dir["gpt2"];
        Gpt2Checkpoint.Save(gpt2, TestHfCheckpoint.RandomModel(TestHfCheckpoint.Small with { VocabSize = 50257 }, 7), "gpt2");
        CliRun.Run("train", "--init", gpt2, "--text", dir["t.txt"], "--tokenizer", "bpe").AssertBadInput("--tokenizer bpe", "with the gpt2 tokenizer");

        string odd = dir["odd"];
        Gpt2Checkpoint.Save(odd, TestHfCheckpoint.RandomModel(TestHfCheckpoint.Small with { VocabSize = 256 }, 7), "sentencepiece");
        CliRun.Run("train", "--init", odd, "--text", dir["t.txt"]).AssertBadInput(odd, "'sentencepiece'");
    }

    [Fact]
    public void ExportWritesAFolderThatReadsBackToTheSameBits()
    {
        string run = dir["run"];
        Assert.Equal(0, TrainCommandTests.Train(run, "--steps", "2", "--eval-every", "10", "--dropout", "0.15").ExitCode);
        var export = CliRun.Run("export", "--format", "hf", "--checkpoint", run, "--out", dir["hf"]);
        Assert.True(export.ExitCode == 0, export.Error);
        Assert.Contains($"tokenizer {CheckpointStore.LoadConfig(run).Tokenizer} (not GPT-2's", export.Out, StringComparison.Ordinal);
        var (trained, _) = ModelCheckpoint.Load(run);
        var model = Gpt2Checkpoint.Load(dir["hf"]);
        Assert.Equal(trained.Config, model.Config);
        for (int i = 0; i < trained.Parameters.Count; i++)
        {
            Assert.Equal(trained.Parameters[i].Data, model.Parameters[i].Data);
        }

        CliRun.Run("export", "--format", "onnx", "--checkpoint", run, "--out", dir["x"]).AssertBadInput("--format", "must be hf");
        CliRun.Run("export", "--checkpoint", dir["nothing"], "--out", dir["x"]).AssertBadInput(dir["nothing"], "does not exist");
    }

    [Fact]
    public void SampleAndEvalReadABytesRunsExportInBytes()
    {
        // They refused it: a Hugging Face folder was read in GPT-2's tokens only.
        File.WriteAllText(dir["t.txt"], string.Concat(Enumerable.Repeat(Text, 4)));
        string run = dir["run"];
        var train = TrainCommandTests.Train(run, "--steps", "2", "--eval-every", "2", "--text", dir["t.txt"], "--tokenizer", "bytes");
        Assert.True(train.ExitCode == 0, train.Error + train.Out);
        var export = CliRun.Run("export", "--format", "hf", "--checkpoint", run, "--out", dir["hf"]);
        Assert.True(export.ExitCode == 0, export.Error);
        Assert.Contains($"wrote {Path.Combine(dir["hf"], "config.json")} and model.safetensors from step", export.Out, StringComparison.Ordinal);

        string[] greedy = ["--prompt", "The quick", "--tokens", "8", "--temperature", "0"];
        var fromExport = CliRun.Run(["sample", "--checkpoint", dir["hf"], .. greedy]);
        Assert.True(fromExport.ExitCode == 0, fromExport.Error);
        Assert.Equal(CliRun.Run(["sample", "--checkpoint", run, .. greedy]).Out, fromExport.Out);

        var eval = CliRun.Run("eval", "--checkpoint", dir["hf"], "--text", dir["t.txt"], "--json");
        Assert.True(eval.ExitCode == 0, eval.Error);
        var json = JsonDocument.Parse(eval.Out).RootElement;
        int[] ids = [.. System.Text.Encoding.UTF8.GetBytes(File.ReadAllText(dir["t.txt"])).Select(b => (int)b)];
        var (nats, predicted) = StridedEvaluation.Loss(Gpt2Checkpoint.Load(dir["hf"]), ids, 16, 16);
        Assert.Equal(predicted, json.GetProperty("tokens").GetInt64());
        Assert.Equal(nats / predicted, json.GetProperty("cross_entropy").GetDouble());
        Assert.Equal("bytes", json.GetProperty("tokenizer").GetString());
    }

    [Fact]
    public void SampleAndEvalRefuseAnExportOfTheMarkovCorpus()
    {
        // They read a Hugging Face folder with GPT-2's tokenizer: an exported bytes, bpe or Markov run printed and
        // scored other text without a word. Bytes and bpe exports are now read in their own tokens (BpeExportTests);
        // the corpus's symbols are no text's.
        string run = dir["run"];
        Assert.Equal(0, TrainCommandTests.Train(run, "--steps", "2", "--eval-every", "10").ExitCode);
        string tokenizer = CheckpointStore.LoadConfig(run).Tokenizer;
        Assert.Equal("markov", tokenizer);
        var export = CliRun.Run("export", "--format", "hf", "--checkpoint", run, "--out", dir["hf"]);
        Assert.True(export.ExitCode == 0, export.Error);
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(dir["hf"], "config.json")))!;
        Assert.Equal(tokenizer, (string?)config["xent_tokenizer"]);
        File.WriteAllText(dir["t.txt"], "some text to score");
        string refusal = $"exported by xent export from a run with the {tokenizer} tokenizer";
        CliRun.Run("sample", "--checkpoint", dir["hf"], "--tokens", "4").AssertBadInput(dir["hf"], refusal);
        CliRun.Run("eval", "--checkpoint", dir["hf"], "--text", dir["t.txt"]).AssertBadInput(dir["hf"], refusal);

        // A GPT-2 run's export, and a folder of Hugging Face's own (no key), are read with GPT-2's tokenizer.
        var model = Gpt2Checkpoint.Load(dir["hf"]);
        Gpt2Checkpoint.Save(dir["gpt2"], model, "gpt2");
        Assert.Same(Gpt2Tokenizer.Instance, Gpt2FolderTokenizer.For(Gpt2Folder.Read(dir["gpt2"])));
        Gpt2Checkpoint.Save(dir["plain"], model);
        Assert.Same(Gpt2Tokenizer.Instance, Gpt2FolderTokenizer.For(Gpt2Folder.Read(dir["plain"])));
        Assert.DoesNotContain("xent_tokenizer", File.ReadAllText(Path.Combine(dir["plain"], "config.json")), StringComparison.Ordinal);
    }
}
