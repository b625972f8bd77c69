using Xent.Cli.Terminal;
using Xent.Training.Checkpoints;
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
        int seq = s.Seq ?? TrainingDefaults.Seq;
        TokenDataset data = s.Text is null
            ? TokenDataset.Markov()
            : TokenDataset.FromTextFile(s.Text, TokenizerNames.Parse(s.Tokenizer ?? "bytes"), seq);
        var model = new GptConfig
        {
            VocabSize = data.Tokenizer.VocabSize,
            ContextLength = seq,
            Layers = s.Layers ?? TrainingDefaults.Layers,
            Heads = s.Heads ?? TrainingDefaults.Heads,
            Dim = s.Dim ?? TrainingDefaults.Dim,
            TieEmbeddings = !s.Untied,
        };
        int steps = s.Steps ?? TrainingDefaults.Steps;
        return new TrainingPlan
        {
            Model = model,
            Data = data,
            Seed = s.Seed ?? TrainingDefaults.Seed,
            Batch = s.Batch ?? TrainingDefaults.Batch,
            TotalSteps = steps,
            WarmupSteps = Math.Min(s.Warmup ?? TrainingDefaults.Warmup(steps), steps),
            LearningRate = s.LearningRate ?? TrainingDefaults.LearningRate,
            EvalEvery = s.EvalEvery ?? TrainingDefaults.EvalEvery,
            OutDir = s.Out ?? TrainSettings.DefaultOut,
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
        {
            throw new XentCliException($"--untied conflicts with the checkpoint in '{dir}', whose embeddings are tied; leave it out when resuming.");
        }
        CheckSameData(s, dir, c);
        TrainingPlan plan = TrainingPlan.Resumed(model, checkpoint, dir);
        int steps = s.Steps ?? plan.TotalSteps;
        if (steps <= c.Step)
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
            EvalEvery = s.EvalEvery ?? plan.EvalEvery,
            OutDir = s.Out ?? dir,
            Threads = s.Threads,
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

    /// <summary>--text and --tokenizer, when given with --resume, must name the checkpoint's own.</summary>
    private static void CheckSameData(TrainSettings s, string dir, CheckpointConfig c)
    {
        if (c.Data.Source == "markov")
        {
            if (s.Text is not null)
            {
                throw new XentCliException($"--text conflicts with the checkpoint in '{dir}', trained on the built-in corpus; leave it out when resuming.");
            }
            return;
        }
        if (s.Text is not null && Path.GetFullPath(s.Text) != c.Data.Source)
        {
            throw new XentCliException($"--text conflicts with the checkpoint in '{dir}', trained on '{c.Data.Source}'; leave it out when resuming.");
        }
        if (s.Tokenizer is not null && TokenizerNames.Parse(s.Tokenizer) != TokenizerNames.Parse(c.Tokenizer))
        {
            throw new XentCliException($"--tokenizer {s.Tokenizer} conflicts with the checkpoint in '{dir}', which uses {c.Tokenizer}.");
        }
    }
}
