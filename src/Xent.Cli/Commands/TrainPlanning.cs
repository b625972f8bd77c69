using System.Globalization;
using Xent.Cli.Terminal;
using Xent.Training.Checkpoints;
using Xent.Training.Checkpoints.HuggingFace;
using Xent.Training.Data;
using Xent.Training.Model;
using Xent.Training.Runs;

namespace Xent.Cli.Commands;

/// <summary>
/// The <see cref="TrainingPlan"/> of <c>xent train</c>'s options: given values, else the library's
/// <see cref="TrainingDefaults"/>; with --resume, the checkpoint's model, data and seed (giving a different value
/// for them is an error naming the option).
/// </summary>
internal static class TrainPlanning
{
    /// <param name="s">The options.</param>
    /// <param name="progress">Where to say, before the steps of a --time budget are timed, that they are; null for nowhere.</param>
    /// <param name="cancellationToken">Stops the timing of a --time budget (<see cref="OperationCanceledException"/>).</param>
    public static TrainingPlan From(TrainSettings s, TextWriter? progress = null, CancellationToken cancellationToken = default)
    {
        try
        {
            TrainingPlan plan = (s.Resume is not null ? Resumed(s) : s.Init is not null ? FineTune(s) : Fresh(s)).WithBaseline();

            // The same validator as eval and sample, on what this run would do (flags included), before the model exists.
            RunConfigValidator.CheckTraining(plan.ToCheckpointConfig(plan.StartStep),
                s.Resume is null ? RunConfigValidator.Flags : RunConfigValidator.InFile(Path.Combine(s.Resume, CheckpointStore.ConfigFile)), resuming: false);
            TimeSpan? budget = StepBudget.ParseDuration(s.Time)
                ?? (s.Resume is null && s.Text is not null && s.Steps is null ? TextTrainingDefaults.TimeBudget : null);
            if (budget is not { } b)
            {
                return plan;
            }

            // Seconds of steps with nothing on the screen otherwise (a text's encoding and baseline come before).
            progress?.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"xent train: timing steps of this model for about {TimeBudgetPlanner.MeasuringTime(b).TotalSeconds:0.#} s, to fit the run to {b.TotalSeconds:0} s (--time) ..."));
            progress?.Flush();
            return TimeBudgetPlanner.Fit(plan, b, s.Warmup, cancellationToken);
        }
        catch (TrainingInputException e)
        {
            throw new XentCliException(e.Message, e);
        }
    }

    private static TrainingPlan Fresh(TrainSettings s)
    {
        int seq = s.Seq ?? TrainingDefaults.Seq;
        bool text = s.Text is not null;

        // Read once, and the defaults taken from the bytes read: a pipe's size on disk is 0, and it cannot be read again.
        TextFile? file = s.Text is null ? null : TextFile.Read(s.Text);
        long size = file?.Bytes ?? 0;
        TokenizerKind kind = s.Tokenizer is { } name ? TokenizerNames.Parse(name) : s.Vocab is not null ? TokenizerKind.Bpe : TextTrainingDefaults.Tokenizer(size);
        if (s.BpeDropout is not null && (s.Text is null || kind != TokenizerKind.Bpe))
        {
            throw new XentCliException("--bpe-dropout is for a learned encoding of a text (--text with --tokenizer bpe, the default from 100 KB).");
        }

        TokenDataset data = file is null
            ? TokenDataset.Markov()
            : kind is TokenizerKind.Bpe
                ? TokenDataset.FromTextBpe(file, s.Vocab ?? TextTrainingDefaults.VocabSize(size), seq,
                    s.BpeDropout ?? TextTrainingDefaults.BpeDropout(size))
                : TokenDataset.FromText(file, kind, seq);
        var model = new GptConfig
        {
            VocabSize = data.Tokenizer.VocabSize,
            ContextLength = seq,
            Layers = s.Layers ?? TrainingDefaults.Layers,
            Heads = s.Heads ?? TrainingDefaults.Heads,
            Dim = s.Dim ?? (text ? TextTrainingDefaults.Dim : TrainingDefaults.Dim),
            TieEmbeddings = !s.Untied,
            Dropout = (float)(s.Dropout ?? (text ? TextTrainingDefaults.Dropout(size) : 0)),
        };
        return Scheduled(s, model, data);
    }

    /// <summary>
    /// --init HF_DIR: fine-tune a Hugging Face GPT-2 on --text (in the tokens of <see cref="InitTokenizer"/>), its
    /// shape and tied or untied head as the checkpoint has them, windows of --seq tokens (default: the usual T, at
    /// most n_positions; the position embedding keeps its first T rows).
    /// </summary>
    private static TrainingPlan FineTune(TrainSettings s)
    {
        if (s.Layers is not null || s.Dim is not null || s.Heads is not null || s.Untied)
        {
            throw new XentCliException("--layers, --dim, --heads and --untied come from the --init checkpoint; leave them out.");
        }

        if (s.Text is null)
        {
            throw new XentCliException("--init needs --text FILE: the text to fine-tune on.");
        }

        string dir = s.Init!;

        // config.json read once: the model, its tokenizer and a bpe export's merges all from the one reading.
        Gpt2Folder folder = Gpt2Folder.TryRead(dir) ?? throw new XentCliException(
            $"--init {dir}: not a Hugging Face GPT-2 folder (config.json with n_embd and model.safetensors); to continue a run of xent train use --resume.");
        var (kind, merges) = InitTokenizer(s, folder);

        // BPE-dropout only skips merges while encoding: a bpe export's fixed merges (or those learned for a folder of
        // Hugging Face's own) take it as a run's learned ones do, in the same ids.
        if (s.BpeDropout is not null && kind != TokenizerKind.Bpe)
        {
            throw new XentCliException($"--bpe-dropout skips merges of a byte-pair encoding; --init {dir} fine-tunes in the {TokenizerNames.Name(kind)} tokenizer, which has no merges to drop.");
        }

        GptConfig stored = folder.Model;
        if (kind == TokenizerKind.Bpe && stored.VocabSize < 256)
        {
            throw new XentCliException($"--init {dir} has a vocabulary of {stored.VocabSize} tokens, fewer than the 256 bytes a byte-pair encoding starts from.");
        }

        int positions = stored.ContextLength;
        int seq = s.Seq ?? Math.Min(TrainingDefaults.Seq, positions);
        if (seq > positions)
        {
            throw new XentCliException($"--seq {seq} is longer than the --init checkpoint's context (n_positions {positions}).");
        }

        // --dropout, else the checkpoint's own resid_pdrop (GPT-2's 0.1), as transformers fine-tunes it.
        var model = Gpt2Checkpoint.Load(folder, seq, (float?)s.Dropout);
        TextFile text = TextFile.Read(s.Text);
        // A BPE learned for a folder of Hugging Face's own is learned to its vocabulary, the one size that fits it.
        double bpeDropout = s.BpeDropout ?? 0;
        TokenDataset data = merges is not null ? TokenDataset.FromTextBpe(text, merges, seq, bpeDropout)
            : kind == TokenizerKind.Bpe ? TokenDataset.FromTextBpe(text, stored.VocabSize, seq, bpeDropout)
            : TokenDataset.FromText(text, kind, seq);
        if (data.Tokenizer.VocabSize != model.Config.VocabSize)
        {
            string learned = merges is null && kind == TokenizerKind.Bpe ? " (learned on --text, where no more pairs repeat)" : string.Empty;
            throw new XentCliException($"--init {dir} has a vocabulary of {model.Config.VocabSize} tokens, but the {TokenizerNames.Name(kind)} tokenizer has {data.Tokenizer.VocabSize}{learned}.");
        }

        return Scheduled(s, model.Config, data) with { Init = model };
    }

    /// <summary>
    /// The tokenizer --init fine-tunes in: the one an export of xent names in config.json (xent_tokenizer), which
    /// --tokenizer may only repeat, with a bpe run's merges from the folder; else --tokenizer's (GPT-2's by default)
    /// for a folder of Hugging Face's own.
    /// </summary>
    /// <remarks>
    /// A bpe export's merges are never learned again from --text when they are missing or damaged: other merges give
    /// the model's ids to other text (a wrong model that still trains); and the built-in corpus's symbols are no
    /// encoding of a text at all.
    /// </remarks>
    private static (TokenizerKind Kind, BpeTokenizer? Merges) InitTokenizer(TrainSettings s, Gpt2Folder folder)
    {
        string dir = folder.Directory;
        if (folder.ExportedTokenizer($"--init {dir}") is not { } kind)
        {
            return (TokenizerNames.Parse(s.Tokenizer ?? "gpt2"), null);
        }

        if (s.Tokenizer is { } given && TokenizerNames.Parse(given) != kind)
        {
            throw new XentCliException($"--tokenizer {given} conflicts with --init {dir}, exported from a run with the {TokenizerNames.Name(kind)} tokenizer; leave --tokenizer out.");
        }

        return (kind, kind == TokenizerKind.Bpe ? Gpt2FolderTokenizer.Merges(folder) : null);
    }

    /// <summary>A fresh run's plan: the schedule and outputs from the options, else the defaults.</summary>
    private static TrainingPlan Scheduled(TrainSettings s, GptConfig model, TokenDataset data)
    {
        int steps = s.Steps ?? TrainingDefaults.Steps;
        bool text = s.Text is not null;
        return new TrainingPlan
        {
            Model = model,
            Data = data,
            Seed = s.Seed ?? TrainingDefaults.Seed,
            Batch = s.Batch ?? TrainingDefaults.Batch,
            TotalSteps = steps,
            WarmupSteps = Math.Min(s.Warmup ?? TrainingDefaults.Warmup(steps), steps),
            LearningRate = s.LearningRate ?? (text ? TextTrainingDefaults.LearningRate : TrainingDefaults.LearningRate),
            WeightDecay = s.WeightDecay ?? (text ? TextTrainingDefaults.WeightDecay : TrainingDefaults.WeightDecay),
            Beta1 = s.Beta1 ?? TrainingDefaults.Beta1,
            Beta2 = s.Beta2 ?? TrainingDefaults.Beta2,
            Epsilon = s.Epsilon ?? TrainingDefaults.Epsilon,
            GradClip = s.GradClip ?? TrainingDefaults.GradClip,
            EvalEvery = s.EvalEvery ?? (text ? TextTrainingDefaults.EvalEvery : TrainingDefaults.EvalEvery),
            EarlyStop = s.EarlyStop ?? 0,
            OutDir = s.OutDir,
            Threads = s.ThreadCount,
        };
    }

    private static TrainingPlan Resumed(TrainSettings s)
    {
        string dir = s.Resume!;

        // The checkpoint's own config through the validator first (what eval refuses, --resume refuses), with the
        // memory of training it, before its tensors are read.
        var (saved, _, source) = CheckpointStore.ResolveConfig(dir);
        RunConfigValidator.CheckTraining(saved, RunConfigValidator.InFile(source), resuming: true);
        var (model, checkpoint) = ModelCheckpoint.Load(dir);
        CheckpointConfig c = checkpoint.Config;
        GptConfig gpt = model.Config;
        Conflict("--seq", s.Seq, gpt.ContextLength);
        Conflict("--layers", s.Layers, gpt.Layers);
        Conflict("--dim", s.Dim, gpt.Dim);
        Conflict("--heads", s.Heads, gpt.Heads);
        Conflict("--vocab", s.Vocab, gpt.VocabSize);
        Conflict("--seed", s.Seed, c.Seed);
        if (s.Dropout is { } dropout && (float)dropout != gpt.Dropout)
        {
            throw new XentCliException($"--dropout {dropout} conflicts with the checkpoint in '{dir}' (dropout = {gpt.Dropout}); leave it out when resuming.");
        }
        if (s.BpeDropout is { } bpeDropout && bpeDropout != c.Data.BpeDropout)
        {
            throw new XentCliException($"--bpe-dropout {bpeDropout} conflicts with the checkpoint in '{dir}' (bpe_dropout = {c.Data.BpeDropout}); leave it out when resuming.");
        }
        if (s.Untied && gpt.TieEmbeddings)
        {
            throw new XentCliException($"--untied conflicts with the checkpoint in '{dir}', whose embeddings are tied; leave it out when resuming.");
        }
        TrainingPlan plan = TrainingPlan.Resumed(model, checkpoint, dir, CheckSameData(s, dir, c));
        int steps = s.Steps ?? plan.TotalSteps;
        if (s.Time is null && steps <= c.Step)
        {
            throw new XentCliException(
                $"The checkpoint in '{dir}' is already at step {c.Step} of {steps}; pass --steps with a larger total to train further.");
        }
        return plan with
        {
            Batch = s.Batch ?? plan.Batch,
            TotalSteps = steps,
            WarmupSteps = Math.Min(s.Warmup ?? plan.WarmupSteps, steps),
            LearningRate = s.LearningRate ?? plan.LearningRate,
            WeightDecay = s.WeightDecay ?? plan.WeightDecay,
            Beta1 = s.Beta1 ?? plan.Beta1,
            Beta2 = s.Beta2 ?? plan.Beta2,
            Epsilon = s.Epsilon ?? plan.Epsilon,
            GradClip = s.GradClip ?? plan.GradClip,
            // Not stored in a checkpoint: this process's interval, by default the same as a fresh run on the same data.
            EvalEvery = s.EvalEvery ?? (c.Data.Source == "markov" ? TrainingDefaults.EvalEvery : TextTrainingDefaults.EvalEvery),
            EarlyStop = s.EarlyStop ?? 0,
            OutDir = s.OutDir,
            Threads = s.ThreadCount,
        };

        void Conflict(string option, long? given, long saved)
        {
            if (given is { } g && g != saved)
            {
                throw new XentCliException(
                    $"{option} {g} conflicts with the checkpoint in '{dir}' ({option[2..]} = {saved}); leave it out when resuming.");
            }
        }
    }

    /// <summary>
    /// --text and --tokenizer, when given with --resume, must name the checkpoint's own: --text its text, from any path
    /// where the checkpoint has its SHA-256 (checked when the data is read), else its path. Returns --text's text, read.
    /// </summary>
    private static TextFile? CheckSameData(TrainSettings s, string dir, CheckpointConfig c)
    {
        if (c.Data.Source == "markov")
        {
            if (s.Text is not null)
            {
                throw new XentCliException($"--text conflicts with the checkpoint in '{dir}', trained on the built-in corpus; leave it out when resuming.");
            }

            // As on a fresh run: the built-in corpus has its own symbols, which no tokenizer option changes.
            if (s.Tokenizer is not null)
            {
                throw new XentCliException($"--tokenizer {s.Tokenizer} conflicts with the checkpoint in '{dir}', trained on the built-in corpus (its own symbols); leave it out when resuming.");
            }
            return null;
        }
        if (s.Text is not null && c.Data.TextSha256 is null && Path.GetFullPath(s.Text) != c.Data.Source)
        {
            throw new XentCliException($"--text conflicts with the checkpoint in '{dir}', trained on '{c.Data.Source}'; leave it out when resuming.");
        }
        if (s.Tokenizer is not null && TokenizerNames.Parse(s.Tokenizer) != TokenizerNames.Parse(c.Tokenizer))
        {
            throw new XentCliException($"--tokenizer {s.Tokenizer} conflicts with the checkpoint in '{dir}', which uses {c.Tokenizer}.");
        }

        // Read here, once: the same path as the checkpoint's source may be a pipe again (--text <(cat FILE)).
        return s.Text is null ? null : TextFile.Read(s.Text);
    }
}
