using Xent.Cli.Commands;
using Xent.Cli.Terminal;
using Xent.Training;
using Xent.Training.Checkpoints;
using Xent.Training.Data;

namespace Xent.Cli.Training;

/// <summary>
/// Everything a training run needs, resolved from the command line or, with --resume, from the checkpoint's
/// config (model, data and seed come from the checkpoint; giving a different value for them is an error).
/// </summary>
internal sealed record TrainingPlan
{
    public required GptConfig Model { get; init; }
    public required TokenDataset Data { get; init; }
    public required int Seed { get; init; }
    public required int Batch { get; init; }
    public required int TotalSteps { get; init; }
    public required int WarmupSteps { get; init; }
    public required double LearningRate { get; init; }
    public required int EvalEvery { get; init; }
    public required string OutDir { get; init; }
    public int? Threads { get; init; }

    /// <summary>The loaded model and checkpoint of a resumed run; null for a fresh one.</summary>
    public (GptModel Model, Checkpoint Checkpoint)? Resume { get; init; }

    public int Seq => Model.ContextLength;
    public double MinLearningRate => LearningRate * TrainDefaults.MinLearningRateRatio;

    public CheckpointConfig ToCheckpointConfig(long step) => new()
    {
        Model = ModelCheckpoint.ToCheckpoint(Model),
        Tokenizer = Data.Tokenizer.Kind.ToString().ToLowerInvariant(),
        Seed = Seed,
        Step = step,
        Data = new CheckpointData
        {
            Source = Data.Source,
            CorpusSeed = Data.Chain is null ? null : TokenDataset.DefaultCorpusSeed,
            TrainTokens = Data.Train.Length,
            ValidationTokens = Data.Validation.Length,
        },
        Training = new CheckpointTraining
        {
            Batch = Batch,
            Seq = Seq,
            TotalSteps = TotalSteps,
            WarmupSteps = WarmupSteps,
            LearningRate = LearningRate,
            MinLearningRate = MinLearningRate,
            WeightDecay = TrainDefaults.WeightDecay,
            Beta1 = 0.9,
            Beta2 = 0.999,
            Epsilon = 1e-8,
            GradClip = TrainDefaults.GradClip,
        },
    };

    public static TrainingPlan From(TrainSettings s)
    {
        try
        {
            return s.Resume is null ? Fresh(s) : Resumed(s);
        }
        catch (TrainingInputException e)
        {
            throw new XentCliException(e.Message, e);
        }
    }

    private static TrainingPlan Fresh(TrainSettings s)
    {
        int seq = s.Seq ?? TrainDefaults.Seq;
        TokenDataset data = s.Text is null
            ? TokenDataset.Markov()
            : TokenDataset.FromTextFile(s.Text, ParseTokenizer(s.Tokenizer ?? "bytes"), seq);
        var model = new GptConfig
        {
            VocabSize = data.Tokenizer.VocabSize,
            ContextLength = seq,
            Layers = s.Layers ?? TrainDefaults.Layers,
            Heads = s.Heads ?? TrainDefaults.Heads,
            Dim = s.Dim ?? TrainDefaults.Dim,
            TieEmbeddings = !s.Untied,
        };
        int steps = s.Steps ?? TrainDefaults.Steps;
        return new TrainingPlan
        {
            Model = model,
            Data = data,
            Seed = s.Seed ?? TrainDefaults.Seed,
            Batch = s.Batch ?? TrainDefaults.Batch,
            TotalSteps = steps,
            WarmupSteps = Math.Min(s.Warmup ?? TrainDefaults.Warmup(steps), steps),
            LearningRate = s.LearningRate ?? TrainDefaults.LearningRate,
            EvalEvery = s.EvalEvery ?? TrainDefaults.EvalEvery,
            OutDir = s.Out ?? TrainDefaults.Out,
            Threads = s.Threads,
        };
    }

    private static TrainingPlan Resumed(TrainSettings s)
    {
        string dir = s.Resume!;
        var (model, checkpoint) = ModelCheckpoint.Load(dir);
        CheckpointConfig c = checkpoint.Config;
        GptConfig gpt = model.Config;
        Conflict("--seq", s.Seq, gpt.ContextLength);
        Conflict("--layers", s.Layers, gpt.Layers);
        Conflict("--dim", s.Dim, gpt.Dim);
        Conflict("--heads", s.Heads, gpt.Heads);
        Conflict("--seed", s.Seed, c.Seed);
        if (s.Untied && gpt.TieEmbeddings)
            throw new XentCliException($"--untied conflicts with the checkpoint in '{dir}', whose embeddings are tied; leave it out when resuming.");

        TokenDataset data;
        if (c.Data.Source == "markov")
        {
            if (s.Text is not null)
                throw new XentCliException($"--text conflicts with the checkpoint in '{dir}', trained on the built-in corpus; leave it out when resuming.");
            data = TokenDataset.Markov(c.Data.CorpusSeed ?? TokenDataset.DefaultCorpusSeed, (int)c.Data.TrainTokens,
                (int)c.Data.ValidationTokens, gpt.VocabSize);
        }
        else
        {
            if (s.Text is not null && Path.GetFullPath(s.Text) != c.Data.Source)
                throw new XentCliException($"--text conflicts with the checkpoint in '{dir}', trained on '{c.Data.Source}'; leave it out when resuming.");
            TokenizerKind kind = ParseTokenizer(c.Tokenizer);
            if (s.Tokenizer is not null && ParseTokenizer(s.Tokenizer) != kind)
                throw new XentCliException($"--tokenizer {s.Tokenizer} conflicts with the checkpoint in '{dir}', which uses {c.Tokenizer}.");
            data = TokenDataset.FromTextFile(c.Data.Source, kind, gpt.ContextLength);
        }
        if (data.Tokenizer.VocabSize != gpt.VocabSize)
            throw new XentCliException($"The checkpoint in '{dir}' has V = {gpt.VocabSize} but its data has V = {data.Tokenizer.VocabSize}.");

        int steps = s.Steps ?? (int)c.Training.TotalSteps;
        if (steps <= c.Step)
            throw new XentCliException(
                $"The checkpoint in '{dir}' is already at step {c.Step} of {steps}; pass --steps with a larger total to train further.");
        return new TrainingPlan
        {
            Model = gpt,
            Data = data,
            Seed = (int)c.Seed,
            Batch = s.Batch ?? c.Training.Batch,
            TotalSteps = steps,
            WarmupSteps = Math.Min(s.Warmup ?? (int)c.Training.WarmupSteps, steps),
            LearningRate = s.LearningRate ?? c.Training.LearningRate,
            EvalEvery = s.EvalEvery ?? TrainDefaults.EvalEvery,
            OutDir = s.Out ?? dir,
            Threads = s.Threads,
            Resume = (model, checkpoint),
        };

        void Conflict(string option, long? given, long saved)
        {
            if (given is { } g && g != saved)
                throw new XentCliException(
                    $"{option} {g} conflicts with the checkpoint in '{dir}' ({option[2..]} = {saved}); leave it out when resuming.");
        }
    }

    public static TokenizerKind ParseTokenizer(string name) => name switch
    {
        "bytes" => TokenizerKind.Bytes,
        "gpt2" => TokenizerKind.Gpt2,
        "markov" => TokenizerKind.Markov,
        _ => throw new XentCliException($"Unknown tokenizer '{name}' (expected bytes or gpt2)."),
    };
}
