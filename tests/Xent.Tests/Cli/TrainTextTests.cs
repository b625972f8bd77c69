using System.Text.Json;
using Xent.Cli.Commands;
using Xent.Training.Baselines;
using Xent.Training.Checkpoints;
using Xent.Training.Runs;

namespace Xent.Tests.Cli;

/// <summary>`xent train --text`: its own defaults, the n-gram baseline, bits per byte, --time, --dropout and --weight-decay.</summary>
public sealed class TrainTextTests : IDisposable
{
    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    private string Text()
    {
        string text = temp["t.txt"];
        File.WriteAllText(text, string.Concat(Enumerable.Range(0, 40).Select(i => $"the quick brown fox {i % 5} jumps over the lazy dog. ")));
        return text;
    }

    [Fact]
    public void Text_runs_get_the_text_defaults_and_the_markov_corpus_keeps_its_own()
    {
        string text = Text();
        TrainingPlan plan = TrainPlanning.From(new TrainSettings { Text = text, Steps = 10, Out = temp["a"] });
        Assert.Equal(TextTrainingDefaults.LearningRate, plan.LearningRate);
        Assert.Equal(TextTrainingDefaults.WeightDecay, plan.WeightDecay);
        Assert.Equal(TextTrainingDefaults.ShortTextDropout, plan.Model.Dropout);
        Assert.Equal(TextTrainingDefaults.Dim, plan.Model.Dim);
        Assert.Equal(256, plan.Model.VocabSize);
        Assert.Equal(TextTrainingDefaults.EvalEvery, plan.EvalEvery);
        Assert.Null(plan.TimeBudget);
        Assert.Equal(10, plan.TotalSteps);

        TrainingPlan markov = TrainPlanning.From(new TrainSettings { Out = temp["b"] });
        Assert.Equal(TrainingDefaults.LearningRate, markov.LearningRate);
        Assert.Equal(TrainingDefaults.WeightDecay, markov.WeightDecay);
        Assert.Equal(0f, markov.Model.Dropout);
        Assert.Equal(TrainingDefaults.Steps, markov.TotalSteps);
        Assert.Null(markov.Baseline);

        // The baseline is the library's, on the plan's validation windows.
        var expected = NGramBaseline.Fit(plan.Data.Train, plan.Data.Validation, 256, plan.Seq, TrainingDefaults.ValidationWindows(plan.Seq));
        Assert.Equal(expected, plan.Baseline);
        Assert.Equal(plan.Baseline!.NatsPerToken / Math.Log(2), plan.ValidationBitsPerByte(plan.Baseline.NatsPerToken), 1e-12);
    }

    [Fact]
    public void A_time_budget_fits_the_step_count_and_the_warmup()
    {
        string text = Text();
        var settings = new TrainSettings { Text = text, Time = "3s", Out = temp["a"], Batch = 2, Seq = 16, Layers = 1, Dim = 16, Heads = 2 };
        TrainingPlan plan = TrainPlanning.From(settings);
        Assert.Equal(TimeSpan.FromSeconds(3), plan.TimeBudget);
        Assert.InRange(plan.TotalSteps, 1, int.MaxValue);
        Assert.Equal(TrainingDefaults.Warmup(plan.TotalSteps), plan.WarmupSteps);
        TrainingPlan kept = TrainPlanning.From(new TrainSettings
        {
            Text = text,
            Time = "3s",
            Warmup = 4,
            Out = temp["b"],
            Batch = 2,
            Seq = 16,
            Layers = 1,
            Dim = 16,
            Heads = 2,
        });
        Assert.Equal(Math.Min(4, kept.TotalSteps), kept.WarmupSteps);

        // Without --time or --steps a text run gets the default budget.
        var defaults = TrainPlanning.From(new TrainSettings { Text = text, Out = temp["c"], Batch = 2, Seq = 16, Layers = 1, Dim = 16, Heads = 2 });
        Assert.Equal(TextTrainingDefaults.TimeBudget, defaults.TimeBudget);
    }

    [Fact]
    public void A_text_run_reports_the_baseline_and_bits_per_byte_and_stores_its_regularisation()
    {
        string text = Text();
        string dir = temp["run"];
        var run = TrainCommandTests.Train(dir, "--steps", "3", "--eval-every", "3", "--text", text, "--dropout", "0.25", "--weight-decay", "0.05");
        Assert.True(run.ExitCode == 0, run.Error + run.Out);
        Assert.Contains("Baseline: a Kneser-Ney ", run.Out, StringComparison.Ordinal);
        Assert.True(run.Out.IndexOf("Baseline:", StringComparison.Ordinal) < run.Out.IndexOf("step 3/3", StringComparison.Ordinal));
        Assert.Contains("bits/byte)", run.Out, StringComparison.Ordinal);

        var s = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json"))).RootElement;
        double baseline = s.GetProperty("ngram_baseline").GetDouble();
        Assert.InRange(baseline, 0.01, Math.Log(256));
        Assert.Equal(baseline / Math.Log(2), s.GetProperty("ngram_bits_per_byte").GetDouble(), 1e-9);
        Assert.Equal(s.GetProperty("final_val_loss").GetDouble() / Math.Log(2), s.GetProperty("final_val_bits_per_byte").GetDouble(), 1e-9);
        Assert.Equal(0.25, s.GetProperty("model").GetProperty("dropout").GetDouble());
        Assert.Equal(0.05, s.GetProperty("weight_decay").GetDouble(), 1e-12);

        CheckpointConfig config = CheckpointStore.LoadConfig(dir);
        Assert.Equal(0.25, config.Model.Dropout);
        Assert.Equal(0.05, config.Training.WeightDecay, 1e-7);

        // A resumed run keeps both; a different dropout is a conflict.
        var resumed = TrainPlanning.From(new TrainSettings { Resume = dir, Steps = 5 });
        Assert.Equal(0.25f, resumed.Model.Dropout);
        Assert.Equal(0.05, resumed.WeightDecay, 1e-7);
        CliRun.Run("train", "--resume", dir, "--steps", "5", "--dropout", "0.1").AssertBadInput("--dropout", "conflicts");
    }

    [Fact]
    public void The_text_defaults_by_size_are_the_measured_ones()
    {
        // docs/training.md, "How the text defaults were chosen": change them only with new measurements there.
        Assert.Equal(Xent.Training.Data.TokenizerKind.Bytes, TextTrainingDefaults.Tokenizer(99_999));
        Assert.Equal(Xent.Training.Data.TokenizerKind.Bpe, TextTrainingDefaults.Tokenizer(100_000));
        Assert.Equal(512, TextTrainingDefaults.VocabSize(499_999));
        Assert.Equal(2048, TextTrainingDefaults.VocabSize(500_000));
        Assert.Equal(0.2f, TextTrainingDefaults.Dropout(499_999));
        Assert.Equal(0.1f, TextTrainingDefaults.Dropout(500_000));
        Assert.Equal(128, TextTrainingDefaults.Dim);
        Assert.Equal(3e-3, TextTrainingDefaults.LearningRate);
        Assert.Equal(0.1, TextTrainingDefaults.WeightDecay);
        Assert.Equal(TimeSpan.FromSeconds(150), TextTrainingDefaults.TimeBudget);
    }

    [Fact]
    public void Longer_texts_get_a_learned_bpe_of_their_size_and_a_byte_level_baseline()
    {
        // 500 000 bytes of made-up words: long enough for the long-text defaults.
        string[] syllables = ["ka", "lo", "mi", "ne", "ru", "ta", "so", "vi", "de", "pa"];
        var random = new Random(3);
        var sb = new System.Text.StringBuilder();
        while (sb.Length < TextTrainingDefaults.LongTextBytes)
        {
            int n = random.Next(1, 4);
            for (int i = 0; i < n; i++)
            {
                sb.Append(syllables[random.Next(syllables.Length)]);
            }

            sb.Append(random.Next(12) == 0 ? ".\n" : " ");
        }

        string text = temp["long.txt"];
        File.WriteAllText(text, sb.ToString());
        TrainingPlan plan = TrainPlanning.From(new TrainSettings { Text = text, Steps = 10, Out = temp["a"] });
        var bpe = Assert.IsType<Xent.Training.Data.BpeTokenizer>(plan.Data.Tokenizer);
        Assert.Equal(plan.Model.VocabSize, bpe.VocabSize);
        Assert.InRange(bpe.VocabSize, 600, TextTrainingDefaults.LongTextVocabSize);
        Assert.Equal(TextTrainingDefaults.LongTextDropout, plan.Model.Dropout);
        Assert.Equal(0, plan.Data.BpeDropout);
        Assert.Same(plan.Data.Train, plan.Data.TrainSamples);
        Assert.Equal(TextTrainingDefaults.Dim, plan.Model.Dim);
        var expected = NGramBaseline.FitOnBytes(bpe, plan.Data.Train, plan.Data.Validation, plan.Seq, TrainingDefaults.ValidationWindows(plan.Seq));
        Assert.Equal(expected, plan.Baseline);

        // One byte shorter: the smaller vocabulary and more dropout; under BpeMinBytes: bytes.
        File.WriteAllText(text, sb.ToString()[..(int)(TextTrainingDefaults.LongTextBytes - 1)]);
        TrainingPlan shorter = TrainPlanning.From(new TrainSettings { Text = text, Steps = 10, Out = temp["b"] });
        Assert.InRange(shorter.Model.VocabSize, 300, TextTrainingDefaults.ShortTextVocabSize);
        Assert.Equal(TextTrainingDefaults.ShortTextDropout, shorter.Model.Dropout);
        Assert.Equal(TextTrainingDefaults.ShortTextBpeDropout, shorter.Data.BpeDropout);
        Assert.True(shorter.Data.TrainSamples.Length > (Xent.Training.Data.TokenDataset.BpeDropoutSegmentations + 1) * shorter.Data.Train.Length);
        File.WriteAllText(text, sb.ToString()[..(int)(TextTrainingDefaults.BpeMinBytes - 1)]);
        TrainingPlan small = TrainPlanning.From(new TrainSettings { Text = text, Steps = 10, Out = temp["c"] });
        Assert.Equal(256, small.Model.VocabSize);
        Assert.Equal(TextTrainingDefaults.ShortTextDropout, small.Model.Dropout);
    }

    [Fact]
    public void A_bpe_run_stores_its_merges_and_eval_sample_and_resume_use_them()
    {
        string text = Text();
        string dir = temp["bpe"];
        var run = TrainCommandTests.Train(dir, "--steps", "3", "--eval-every", "3", "--text", text, "--tokenizer", "bpe", "--vocab", "280");
        Assert.True(run.ExitCode == 0, run.Error + run.Out);
        Assert.Contains("BPE-dropout 0.1", run.Out, StringComparison.Ordinal);

        CheckpointConfig config = CheckpointStore.LoadConfig(dir);
        Assert.Equal("bpe", config.Tokenizer);
        Assert.Equal(280, config.Model.VocabSize);
        Assert.Equal(24, config.BpeMerges!.Count);
        Assert.Equal(TextTrainingDefaults.ShortTextBpeDropout, config.Data.BpeDropout); // a short text's default

        // The baseline counts bytes: the library's byte-level baseline of this plan, in the units of the tokens.
        TrainingPlan plan = TrainingPlan.Resumed(dir);
        Assert.Equal(TextTrainingDefaults.ShortTextBpeDropout, plan.Data.BpeDropout);
        var bpe = Assert.IsType<Xent.Training.Data.BpeTokenizer>(plan.Data.Tokenizer);
        var expected = NGramBaseline.FitOnBytes(bpe, plan.Data.Train, plan.Data.Validation, plan.Seq, TrainingDefaults.ValidationWindows(plan.Seq));
        var s = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json"))).RootElement;
        Assert.Equal(expected.NatsPerToken, s.GetProperty("ngram_baseline").GetDouble(), 1e-12);
        Assert.True(s.GetProperty("ngram_bits_per_byte").GetDouble() < expected.NatsPerToken / Math.Log(2),
            "a token stands for more than one byte");

        var eval = CliRun.Run("eval", "--checkpoint", dir, "--text", text);
        Assert.True(eval.ExitCode == 0, eval.Error + eval.Out);
        var sample = CliRun.Run("sample", "--checkpoint", dir, "--tokens", "20", "--prompt", "the quick");
        Assert.True(sample.ExitCode == 0, sample.Error + sample.Out);
        Assert.StartsWith("the quick", sample.Out.TrimStart(), StringComparison.Ordinal);

        var resumed = TrainCommandTests.Train(dir, "--resume", dir, "--steps", "4");
        Assert.True(resumed.ExitCode == 0, resumed.Error + resumed.Out);
        CliRun.Run("train", "--resume", dir, "--steps", "6", "--vocab", "300").AssertBadInput("--vocab", "conflicts");
        CliRun.Run("train", "--resume", dir, "--steps", "6", "--bpe-dropout", "0.2").AssertBadInput("--bpe-dropout", "conflicts");
        CliRun.Run("train", "--text", text, "--tokenizer", "bytes", "--bpe-dropout", "0.1", "--out", temp["bd"]).AssertBadInput("--bpe-dropout", "learned encoding");
        CliRun.Run("train", "--text", text, "--tokenizer", "bpe", "--vocab", "280", "--bpe-dropout", "1", "--out", temp["bd"]).AssertBadInput("dropout", "[0, 1)");
    }

    [Fact]
    public void Vocab_without_a_tokenizer_learns_a_bpe_of_that_size_and_is_refused_where_the_vocabulary_is_fixed()
    {
        string dir = temp["vocab-only"];
        var run = TrainCommandTests.Train(dir, "--steps", "2", "--eval-every", "2", "--text", Text(), "--vocab", "270");
        Assert.True(run.ExitCode == 0, run.Error + run.Out);
        CheckpointConfig config = CheckpointStore.LoadConfig(dir);
        Assert.Equal("bpe", config.Tokenizer);
        Assert.Equal(270, config.Model.VocabSize);

        CliRun.Run("train", "--out", temp["v1"], "--vocab", "300").AssertBadInput("--vocab", "built-in corpus");
        CliRun.Run("train", "--out", temp["v2"], "--text", Text(), "--tokenizer", "bytes", "--vocab", "300").AssertBadInput("--vocab", "fixed");
    }

    [Theory]
    [InlineData("markov")] // the built-in corpus's tokens, a name of the table but never a --text tokenizer
    [InlineData("GPT2")]
    [InlineData("sentencepiece")]
    public void Tokenizer_names_other_than_those_of_a_text_are_refused(string name)
    {
        CliRun.Run("train", "--out", temp["tok-" + name], "--text", Text(), "--tokenizer", name)
            .AssertBadInput("--tokenizer must be bytes, bpe or gpt2", $"not '{name}'");
    }

    [Theory]
    [InlineData("--vocab", "100")]
    [InlineData("--time", "2x")]
    [InlineData("--time", "0s")]
    [InlineData("--dropout", "1")]
    [InlineData("--dropout", "-0.1")]
    [InlineData("--weight-decay", "-1")]
    public void Bad_values_give_exit_code_2(string option, string value)
    {
        var run = CliRun.Run("train", "--out", temp["r"], option, value);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains(option, run.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1")]
    [InlineData("NaN")]
    [InlineData("-0.5")]
    public void A_bpe_dropout_outside_its_range_is_refused_naming_the_option_before_the_text_is_read(string value)
    {
        // It was refused only once the text was read and encoded, as "The BPE dropout is NaN", naming no option.
        var run = CliRun.Run("train", "--out", temp["r"], "--text", temp["missing.txt"], "--bpe-dropout", value);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--bpe-dropout must be in [0, 1)", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Time_and_steps_together_are_an_error()
    {
        var run = CliRun.Run("train", "--out", temp["r"], "--time", "1m", "--steps", "10");
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--time and --steps", run.Error, StringComparison.Ordinal);
    }
}
