using System.Text.Json;
using System.Text.Json.Nodes;

using Xent.Training.Data;

namespace Xent.Training.Runs;

/// <summary>summary.json: the run's key numbers in one small object.</summary>
public static class RunSummary
{
    /// <summary>The file's name in a run's folder.</summary>
    public const string FileName = "summary.json";

    /// <summary>The summary of <paramref name="outcome"/>, a run of <paramref name="plan"/>.</summary>
    public static JsonObject Build(TrainingPlan plan, TrainingOutcome outcome)
    {
        double? floor = plan.Data.EntropyFloor;
        return new JsonObject
        {
            ["status"] = outcome.Status switch
            {
                TrainingStatus.Completed => "completed",
                TrainingStatus.Interrupted => "interrupted",
                _ => "non_finite_loss",
            },
            ["entropy_floor"] = floor,
            ["window_floor"] = plan.Data.Chain?.WindowFloor(plan.Seq),
            // The whole run's start, also after a resume; the resumed segment's own start beside it.
            ["initial_val_loss"] = Finite(outcome.RunInitialValLoss ?? outcome.InitialValLoss),
            ["segment_initial_val_loss"] = Finite(outcome.InitialValLoss),
            ["final_val_loss"] = Finite(outcome.FinalValLoss),
            ["final_train_loss"] = Finite(outcome.FinalTrainLoss),
            ["best_val_loss"] = Finite(outcome.BestValLoss),
            ["best_step"] = outcome.BestStep,
            ["stopped_early"] = outcome.StoppedEarly,
            ["ngram_baseline"] = plan.Baseline?.NatsPerToken,
            ["ngram_order"] = plan.Baseline?.Order,
            ["final_val_bits_per_byte"] = plan.Data.Chain is null && Finite(outcome.FinalValLoss) is { } fv ? plan.ValidationBitsPerByte(fv) : null,
            ["ngram_bits_per_byte"] = plan.Baseline is { } b ? plan.ValidationBitsPerByte(b.NatsPerToken) : null,
            ["gap_to_floor"] = floor is { } f && outcome.FinalValLoss is { } v && double.IsFinite(v) ? (v - f) / f : null,
            ["vocab_size"] = plan.Model.VocabSize,
            ["steps"] = outcome.FinalStep,
            ["start_step"] = outcome.StartStep,
            ["total_steps"] = plan.TotalSteps,
            ["non_finite_step"] = outcome.NonFiniteStep,
            ["checkpoint_step"] = outcome.CheckpointStep,
            ["tokens_per_s"] = outcome.TokensPerSecond,
            ["train_seconds"] = outcome.TrainSeconds,
            ["wall_seconds"] = outcome.WallSeconds,
            // Every step trains the same global batch [B, T], so the whole run's count follows from its last step.
            ["tokens_trained"] = outcome.FinalStep * (long)plan.Batch * plan.Seq,
            ["segment_tokens_trained"] = (outcome.FinalStep - outcome.StartStep) * (long)plan.Batch * plan.Seq,
            ["parameters"] = outcome.ParameterCount,
            ["data"] = plan.Data.Source,
            ["tokenizer"] = TokenizerNames.Name(plan.Data.Tokenizer.Kind),
            ["model"] = new JsonObject
            {
                ["layers"] = plan.Model.Layers,
                ["dim"] = plan.Model.Dim,
                ["heads"] = plan.Model.Heads,
                ["context_length"] = plan.Model.ContextLength,
                ["tie_embeddings"] = plan.Model.TieEmbeddings,
                ["dropout"] = (double)(decimal)plan.Model.Dropout,
            },
            ["weight_decay"] = plan.WeightDecay,
            ["beta1"] = plan.Beta1,
            ["beta2"] = plan.Beta2,
            ["epsilon"] = plan.Epsilon,
            ["grad_clip"] = plan.GradClip,
            ["batch"] = plan.Batch,
            ["seq"] = plan.Seq,
            ["learning_rate"] = plan.LearningRate,
            ["seed"] = plan.Seed,
            // The library runs at most one thread a core, whatever --threads asked for.
            ["threads"] = Math.Min(plan.Threads ?? Environment.ProcessorCount, Environment.ProcessorCount),
            ["world_size"] = outcome.WorldSize,
            ["vocab_parallel"] = outcome.VocabParallel,
        };
    }

    /// <summary>Writes <paramref name="summary"/> into <paramref name="directory"/> (whole: through a temporary file, gone again if the write fails).</summary>
    /// <exception cref="TrainingInputException">
    /// An I/O error (a full disk, no permission): the message names summary.json and says that the run's checkpoint
    /// and metrics.jsonl are saved; the error is the inner exception.
    /// </exception>
    public static void Write(string directory, JsonObject summary)
    {
        // Whether an earlier summary is there is asked only where the write failed, which left it as it was.
        string path = Path.Combine(directory, FileName);
        Checkpoints.WholeFiles.WriteText(path, summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n",
            (e, at) => Checkpoints.CheckpointSaveFailure.OfFile(e, at, "the run", "writing the run's summary",
                $"The training is over and its checkpoint and {MetricsLog.FileName} are saved; {FileName} was not written" +
                (File.Exists(path) ? $" (the earlier {FileName} there is as it was)." : ".")));
    }

    private static double? Finite(double? x) => x is { } v && double.IsFinite(v) ? v : null;
}
