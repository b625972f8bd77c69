using System.Text;
using System.Text.Json;
using Xent.Training.Checkpoints;
using Xent.Training.Data;
using Xent.Training.Runs;

namespace Xent.Tests.Cli;

/// <summary>`xent train` end to end on tiny configurations (a few steps of a 1-layer, D = 16 model).</summary>
public sealed class TrainCommandTests : IDisposable
{
    internal static readonly string[] Tiny = ["--batch", "2", "--seq", "16", "--layers", "1", "--dim", "16", "--heads", "2"];

    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    internal static CliRun Train(string outDir, params string[] args) =>
        CliRun.Run(["train", "--out", outDir, .. Tiny, .. args]);

    private static JsonElement Summary(string dir) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json"))).RootElement;

    private static List<MetricRecord> Metrics(string dir) => MetricsLog.Read(Path.Combine(dir, "metrics.jsonl"));

    [Fact]
    public void Cancelled_once_training_began_measures_nothing_saves_step_0_and_exits_130()
    {
        // Cancelled from the start, without --time: the initial validation is the first cancellable work, and neither
        // it nor a final one is run; the untrained model is saved as the interrupted run's checkpoint.
        string dir = temp["run"];
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        var run = CliRun.Run(cancelled.Token, ["train", "--out", dir, "--steps", "5", .. Tiny]);
        Assert.True(run.ExitCode == 130, $"exit code {run.ExitCode}: {run.Error}");
        Assert.Contains("Interrupted at step 0;", run.Out, StringComparison.Ordinal);
        Assert.Equal("", run.Error);
        Assert.Equal(0, CheckpointStore.LoadConfig(dir).Step);
        var summary = Summary(dir);
        Assert.Equal(JsonValueKind.Null, summary.GetProperty("initial_val_loss").ValueKind);
        Assert.Equal(JsonValueKind.Null, summary.GetProperty("final_val_loss").ValueKind);
    }

    [Fact]
    public void Tiny_run_writes_checkpoint_metrics_plot_and_summary()
    {
        string dir = temp["run"];
        var run = Train(dir, "--steps", "5", "--eval-every", "2");
        Assert.True(run.ExitCode == 0, run.Error + run.Out);
        Assert.Contains("Entropy floor: ", run.Out, StringComparison.Ordinal);
        Assert.True(run.Out.IndexOf("Entropy floor", StringComparison.Ordinal) < run.Out.IndexOf("step 2/5", StringComparison.Ordinal),
            "the floor is printed before training starts");

        foreach (string f in new[] { "model.safetensors", "config.json", "metrics.jsonl", "loss.png", "summary.json" })
        {
            Assert.True(File.Exists(Path.Combine(dir, f)), f);
        }

        Assert.Empty(Directory.GetFiles(dir, "*.tmp*"));
        Assert.Empty(Directory.GetFiles(dir, "*.xent-tmp", SearchOption.AllDirectories));

        byte[] png = File.ReadAllBytes(Path.Combine(dir, "loss.png"));
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);

        JsonElement s = Summary(dir);
        double floor = MarkovChain.Create(TokenDataset.DefaultCorpusSeed).EntropyRate;
        Assert.Equal(floor, s.GetProperty("entropy_floor").GetDouble(), 12);
        Assert.Equal(32, s.GetProperty("vocab_size").GetInt32());
        Assert.Equal(5, s.GetProperty("steps").GetInt32());
        Assert.Equal("completed", s.GetProperty("status").GetString());
        foreach (string key in new[] { "initial_val_loss", "final_val_loss", "tokens_per_s", "wall_seconds" })
        {
            Assert.True(double.IsFinite(s.GetProperty(key).GetDouble()) && s.GetProperty(key).GetDouble() > 0, key);
        }
        // A fresh model predicts close to uniform: loss near ln V.
        Assert.InRange(s.GetProperty("initial_val_loss").GetDouble(), Math.Log(32) - 0.3, Math.Log(32) + 0.3);

        var m = Metrics(dir);
        Assert.Equal([1L, 2, 3, 4, 5], m.Select(r => r.Step));
        Assert.Equal([2L, 4, 5], m.Where(r => r.ValLoss is not null).Select(r => r.Step));
        Assert.All(m, r => Assert.True(double.IsFinite(r.Loss) && r.LearningRate > 0 && r.GradNorm > 0 && r.TokensPerSecond > 0));
        Assert.Equal(m[^1].ValLoss!.Value, s.GetProperty("final_val_loss").GetDouble(), 12);

        CheckpointConfig config = CheckpointStore.LoadConfig(dir);
        Assert.Equal(5, config.Step);
        Assert.Equal("markov", config.Tokenizer);
        Assert.Equal(16, config.Model.Dim);
    }

    [Fact]
    public void Resume_continues_the_step_count_and_the_metrics()
    {
        string dir = temp["run"];
        Assert.Equal(0, Train(dir, "--steps", "3", "--eval-every", "10").ExitCode);
        Assert.Equal(3, CheckpointStore.LoadConfig(dir).Step);

        var run = CliRun.Run("train", "--resume", dir, "--steps", "6", "--eval-every", "10");
        Assert.True(run.ExitCode == 0, run.Error + run.Out);
        Assert.Contains("resuming at step 3", run.Out, StringComparison.Ordinal);
        Assert.Equal(6, CheckpointStore.LoadConfig(dir).Step);
        JsonElement s = Summary(dir);
        Assert.Equal(3, s.GetProperty("start_step").GetInt32());
        Assert.Equal(6, s.GetProperty("steps").GetInt32());
        Assert.Equal([1L, 2, 3, 4, 5, 6], Metrics(dir).Select(r => r.Step));

        // Already at the requested total: a clear message, nothing changes.
        var again = CliRun.Run("train", "--resume", dir, "--steps", "6");
        again.AssertBadInput(dir, "already at step 6");
        var conflict = CliRun.Run("train", "--resume", dir, "--steps", "9", "--dim", "32");
        conflict.AssertBadInput(dir, "--dim 32 conflicts");
    }

    [Fact]
    public void Training_on_a_byte_text_file_has_no_entropy_floor()
    {
        string text = temp["t.txt"];
        File.WriteAllText(text, string.Concat(Enumerable.Repeat("the quick brown fox jumps over the lazy dog. ", 20)));
        string dir = temp["run"];
        var run = Train(dir, "--steps", "2", "--text", text, "--tokenizer", "bytes");
        Assert.True(run.ExitCode == 0, run.Error + run.Out);
        JsonElement s = Summary(dir);
        Assert.Equal(JsonValueKind.Null, s.GetProperty("entropy_floor").ValueKind);
        Assert.Equal(256, s.GetProperty("vocab_size").GetInt32());
        Assert.Equal("bytes", CheckpointStore.LoadConfig(dir).Tokenizer);
    }

    [Fact]
    public void Training_with_the_gpt2_tokenizer_uses_its_vocabulary()
    {
        string text = temp["t.txt"];
        File.WriteAllText(text, string.Concat(Enumerable.Repeat("The quick brown fox jumps over the lazy dog. ", 20)));
        string dir = temp["run"];
        var run = CliRun.Run("train", "--out", dir, "--text", text, "--tokenizer", "gpt2", "--steps", "1",
            "--batch", "1", "--seq", "8", "--layers", "1", "--dim", "8", "--heads", "1");
        Assert.True(run.ExitCode == 0, run.Error + run.Out);
        Assert.Equal(50257, Summary(dir).GetProperty("vocab_size").GetInt32());
        Assert.InRange(Summary(dir).GetProperty("initial_val_loss").GetDouble(), Math.Log(50257) - 0.5, Math.Log(50257) + 0.5);
    }

    [Fact]
    public void Bad_text_files_give_exit_code_2_and_one_line()
    {
        string missing = temp["missing.txt"];
        Train(temp["r1"], "--text", missing).AssertBadInput(missing, "does not exist");

        string empty = temp["empty.txt"];
        File.WriteAllBytes(empty, []);
        Train(temp["r2"], "--text", empty).AssertBadInput(empty, "is empty");

        string shortText = temp["short.txt"];
        File.WriteAllText(shortText, "too short for a window");
        Train(temp["r3"], "--text", shortText).AssertBadInput(shortText, "too short");

        Assert.False(Directory.Exists(temp["r1"]) || Directory.Exists(temp["r2"]) || Directory.Exists(temp["r3"]),
            "nothing is written for bad input");
    }

    [Fact]
    public void Bad_options_give_exit_code_2()
    {
        var run = CliRun.Run("train", "--out", temp["r"], "--dim", "10", "--heads", "3");
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("must divide", run.Error, StringComparison.Ordinal);
        Assert.Equal(2, CliRun.Run("train", "--tokenizer", "words").ExitCode);
        Assert.Equal(2, CliRun.Run("train", "--lr", "-1").ExitCode);
    }

    [Fact]
    public void Resume_from_a_corrupt_or_missing_checkpoint_is_bad_input()
    {
        CliRun.Run("train", "--resume", temp["nothing"]).AssertBadInput(temp["nothing"], "does not exist");

        string dir = temp["run"];
        Assert.Equal(0, Train(dir, "--steps", "1").ExitCode);
        string model = Path.Combine(dir, "model.safetensors");
        byte[] bytes = File.ReadAllBytes(model);
        File.WriteAllBytes(model, bytes[..(bytes.Length / 2)]);
        CliRun.Run("train", "--resume", dir, "--steps", "3").AssertBadInput(model, "is corrupt");
        Assert.Equal(bytes.Length / 2, new FileInfo(model).Length); // left as it was
    }

    [Fact]
    public void Non_finite_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint()
    {
        string dir = temp["run"];
        Assert.Equal(0, Train(dir, "--steps", "2").ExitCode);
        byte[] good = File.ReadAllBytes(Path.Combine(dir, "model.safetensors"));

        // A learning rate of 1e30 makes the weights overflow within a step or two.
        var run = CliRun.Run("train", "--resume", dir, "--steps", "6", "--lr", "1e30", "--eval-every", "1");
        Assert.Equal(3, run.ExitCode);
        Assert.Contains("non-finite", run.Error, StringComparison.Ordinal);
        Assert.Matches("at step [3-6];", run.Error);
        Assert.DoesNotContain(" at Xent", run.Error, StringComparison.Ordinal);
        Assert.Single(run.Error.Trim().Split('\n'));
        Assert.Equal(good, File.ReadAllBytes(Path.Combine(dir, "model.safetensors")));
        Assert.Equal(2, CheckpointStore.LoadConfig(dir).Step);
        Assert.Equal("non_finite_loss", Summary(dir).GetProperty("status").GetString());
    }

    [Fact]
    public void Eval_reports_cross_entropy_perplexity_and_bits_per_byte()
    {
        string dir = temp["run"];
        Assert.Equal(0, Train(dir, "--steps", "2").ExitCode);
        var data = TokenDataset.Markov(trainTokens: 1000, validationTokens: 200);
        string text = temp["held-out.txt"];
        string symbols = data.Tokenizer.Decode(data.Validation);
        File.WriteAllText(text, symbols[..100] + "\n" + symbols[100..] + "\n"); // wrapped lines are fine

        var run = CliRun.Run("eval", "--checkpoint", dir, "--text", text, "--json");
        Assert.True(run.ExitCode == 0, run.Error);
        JsonElement j = JsonDocument.Parse(run.Out).RootElement;
        double ce = j.GetProperty("cross_entropy").GetDouble();
        Assert.Equal(199, j.GetProperty("tokens").GetInt64());
        Assert.Equal(199, j.GetProperty("bytes").GetInt64()); // one ASCII byte per symbol
        Assert.Equal(Math.Exp(ce), j.GetProperty("perplexity").GetDouble(), 9);
        Assert.Equal(ce / Math.Log(2), j.GetProperty("bits_per_byte").GetDouble(), 9);

        // The same number from the model directly: windows of T = 16 with stride 16 over the 200 symbols.
        var (model, _) = ModelCheckpoint.Load(dir);
        var (nats, predicted) = Evaluation.StreamLoss(model, data.Validation, 16, 4);
        Assert.InRange(ce, nats / predicted - 1e-6, nats / predicted + 1e-6);
        // ...and the first window by hand.
        float first = model.Loss(data.Validation.AsSpan(0, 16), data.Validation.AsSpan(1, 16), 1, 16);
        Assert.InRange(first, 0.5 * ce, 2 * ce);

        var table = CliRun.Run("eval", "--checkpoint", dir, "--text", text);
        Assert.Contains("bits per byte", table.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Checkpoint_passes_every_check_of_the_reference_safetensors_reader()
    {
        // Python's safetensors loads through huggingface/safetensors' Rust reader. Its checks, restated here without
        // our own reader: header length at most 100,000,000 and inside the file; the header UTF-8 JSON (an object);
        // "__metadata__" a string-to-string map; every other entry exactly {dtype, shape, data_offsets} with a known
        // dtype; offsets sorted, contiguous from 0, each span = elements x dtype size; the last span ending exactly at
        // the end of the file. (8-byte alignment of the data is the reference writer's habit, checked too.)
        string dir = temp["run"];
        Assert.Equal(0, Train(dir, "--steps", "1").ExitCode);
        byte[] file = File.ReadAllBytes(Path.Combine(dir, CheckpointStore.ModelFile));
        ulong n = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(file);
        Assert.InRange(n, 2ul, 100_000_000ul);
        Assert.True(8 + (long)n <= file.Length);
        Assert.Equal(0ul, (8 + n) % 8);
        string header = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(file, 8, (int)n);
        Assert.StartsWith("{", header, StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(header);
        var spans = new List<(long Begin, long End)>();
        int tensors = 0;
        foreach (var entry in doc.RootElement.EnumerateObject())
        {
            if (entry.Name == "__metadata__")
            {
                Assert.All(entry.Value.EnumerateObject(), kv => Assert.Equal(JsonValueKind.String, kv.Value.ValueKind));
                continue;
            }

            tensors++;
            Assert.Equal(["data_offsets", "dtype", "shape"], entry.Value.EnumerateObject().Select(q => q.Name).Order(StringComparer.Ordinal));
            Assert.Equal("F32", entry.Value.GetProperty("dtype").GetString());
            long elements = entry.Value.GetProperty("shape").EnumerateArray().Aggregate(1L, (a, d) => a * d.GetInt64());
            long[] offsets = [.. entry.Value.GetProperty("data_offsets").EnumerateArray().Select(o => o.GetInt64())];
            Assert.Equal(2, offsets.Length);
            Assert.Equal(elements * sizeof(float), offsets[1] - offsets[0]);
            spans.Add((offsets[0], offsets[1]));
        }

        Assert.True(tensors > 3, $"only {tensors} tensors");
        long end = 0;
        foreach (var (begin, stop) in spans.Order())
        {
            Assert.Equal(end, begin);
            end = stop;
        }

        Assert.Equal(file.Length, 8 + (long)n + end);
    }

    [Fact]
    public void Eval_bad_inputs_are_reported()
    {
        string dir = temp["run"];
        Assert.Equal(0, Train(dir, "--steps", "1").ExitCode);
        string shortText = temp["s.txt"];
        File.WriteAllText(shortText, "abcabc");
        CliRun.Run("eval", "--checkpoint", dir, "--text", shortText).AssertBadInput(shortText, "shorter than one context window");
        string notSymbols = temp["n.txt"];
        File.WriteAllText(notSymbols, new string('!', 40));
        CliRun.Run("eval", "--checkpoint", dir, "--text", notSymbols).AssertBadInput("'!'", "not a symbol");

        // A config that no longer matches the tensors (in the last checkpoint and the best one, which eval reads first).
        foreach (string folder in new[] { dir, Path.Combine(dir, "best") })
        {
            string config = Path.Combine(folder, "config.json");
            File.WriteAllText(config, File.ReadAllText(config).Replace("\"dim\": 16", "\"dim\": 32", StringComparison.Ordinal));
        }
        CliRun.Run("eval", "--checkpoint", dir, "--text", shortText).AssertBadInput("model.safetensors", "does not match its config");
        CliRun.Run("sample", "--checkpoint", dir).AssertBadInput("model.safetensors", "does not match its config");
    }

    [Fact]
    public void Sample_generates_symbols_deterministically_by_seed()
    {
        string dir = temp["run"];
        Assert.Equal(0, Train(dir, "--steps", "2").ExitCode);
        var a = CliRun.Run("sample", "--checkpoint", dir, "--tokens", "30", "--seed", "4", "--top-k", "5");
        var b = CliRun.Run("sample", "--checkpoint", dir, "--tokens", "30", "--seed", "4", "--top-k", "5");
        Assert.True(a.ExitCode == 0, a.Error);
        string text = a.Out.Trim();
        Assert.Equal(32, text.Length); // 2 prompt symbols + 30 generated
        Assert.All(text, c => Assert.Contains(c, MarkovChain.Alphabet[..32]));
        Assert.Equal(a.Out, b.Out);

        var prompted = CliRun.Run("sample", "--checkpoint", dir, "--prompt", "abc", "--tokens", "5", "--temperature", "0");
        Assert.StartsWith("abc", prompted.Out, StringComparison.Ordinal);
        Assert.Equal(8, prompted.Out.Trim().Length);
        CliRun.Run("sample", "--checkpoint", dir, "--prompt", "a!").AssertBadInput("'!'", "not a symbol");

        // Symbols wrapped over lines or spaced, as xent eval reads a file of them (and prints a sample's), were refused
        // as a prompt: "' ' (U+0020) is not a symbol".
        var spaced = CliRun.Run("sample", "--checkpoint", dir, "--prompt", " a b\nc ", "--tokens", "5", "--temperature", "0");
        Assert.True(spaced.ExitCode == 0, spaced.Error);
        Assert.Equal(prompted.Out, spaced.Out);
        CliRun.Run("sample", "--checkpoint", dir, "--prompt", " \n").AssertBadInput("prompt", "no tokens");
    }

    [Fact]
    public void Sample_from_a_byte_model_decodes_text()
    {
        string text = temp["t.txt"];
        File.WriteAllText(text, string.Concat(Enumerable.Repeat("hello world. ", 40)), Encoding.UTF8);
        string dir = temp["run"];
        Assert.Equal(0, Train(dir, "--steps", "1", "--text", text).ExitCode);
        var run = CliRun.Run("sample", "--checkpoint", dir, "--prompt", "hello", "--tokens", "10", "--seed", "1");
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.StartsWith("hello", run.Out, StringComparison.Ordinal);
    }
}
