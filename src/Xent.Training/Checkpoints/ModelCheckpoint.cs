using Xent.Optim;
using Xent.Training.Data;
using Xent.Training.Model;

namespace Xent.Training.Checkpoints;

/// <summary>Saves a <see cref="GptModel"/> with its AdamW state through <see cref="CheckpointStore"/>, and rebuilds them.</summary>
public static class ModelCheckpoint
{
    /// <summary>The config.json form of a model config.</summary>
    /// <param name="config">The model's config.</param>
    public static CheckpointModel ToCheckpoint(GptConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new CheckpointModel
        {
            VocabSize = config.VocabSize,
            ContextLength = config.ContextLength,
            Layers = config.Layers,
            Heads = config.Heads,
            Dim = config.Dim,
            TieEmbeddings = config.TieEmbeddings,
            Dropout = (double)(decimal)config.Dropout, // 0.1f is written 0.1
        };
    }

    /// <summary>The model config a checkpoint describes.</summary>
    /// <param name="model">config.json's model section.</param>
    public static GptConfig ToGptConfig(CheckpointModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return new GptConfig
        {
            VocabSize = model.VocabSize,
            ContextLength = model.ContextLength,
            Layers = model.Layers,
            Heads = model.Heads,
            Dim = model.Dim,
            TieEmbeddings = model.TieEmbeddings,
            Dropout = (float)model.Dropout,
        };
    }

    /// <summary>Writes the model's parameters and the optimizer's moments and step (atomically, see <see cref="CheckpointStore.Save"/>).</summary>
    /// <param name="directory">Checkpoint directory.</param>
    /// <param name="config">config.json's content; <see cref="CheckpointConfig.Step"/> is the training step.</param>
    /// <param name="model">The model.</param>
    /// <param name="optimizer">Its AdamW, built over <see cref="GptModel.Parameters"/> in order.</param>
    public static void Save(string directory, CheckpointConfig config, GptModel model, AdamW optimizer) =>
        Save(directory, config, CheckpointState.Of(model, optimizer));

    /// <summary>Writes a checkpoint's tensors (atomically, see <see cref="CheckpointStore.Save"/>).</summary>
    /// <param name="directory">Checkpoint directory.</param>
    /// <param name="config">config.json's content; <see cref="CheckpointConfig.Step"/> is the training step.</param>
    /// <param name="state">The weights and AdamW state of the whole model.</param>
    public static void Save(string directory, CheckpointConfig config, CheckpointState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        CheckpointStore.Save(directory, config, state.Weights, state.M, state.V, state.OptimizerStep);
    }

    /// <summary>
    /// Loads a checkpoint into a new model built from its config, after <see cref="RunConfigValidator"/> checked
    /// the config and the memory (throws <see cref="TrainingInputException"/> for a missing, corrupt, mismatched
    /// or out-of-range checkpoint).
    /// </summary>
    /// <param name="directory">Checkpoint directory.</param>
    /// <returns>The model holding the saved weights, and the checkpoint (for <see cref="RestoreOptimizer"/>).</returns>
    public static (GptModel Model, Checkpoint Checkpoint) Load(string directory)
    {
        // Every field in range and the memory there, before the model or the tensors are allocated.
        var (config, _, source) = CheckpointStore.ResolveConfig(directory);
        RunConfigValidator.CheckInference(config, RunConfigValidator.InFile(source), batch: 1);
        GptModel? model = null;
        Checkpoint checkpoint = CheckpointStore.Load(directory, config =>
        {
            GptConfig gpt = ToGptConfig(config.Model);
            gpt.Validate();
            model = new GptModel(gpt, unchecked((int)config.Seed));
            return [.. model.Parameters.Select(p => (p.Name, p.Shape))];
        });
        foreach (Parameter p in model!.Parameters)
        {
            checkpoint.Weights[p.Name].Data.CopyTo(p.Data, 0);
        }

        return (model, checkpoint);
    }

    /// <summary>Copies the checkpoint's AdamW moments and step into <paramref name="optimizer"/>.</summary>
    /// <param name="checkpoint">A checkpoint loaded by <see cref="Load"/>.</param>
    /// <param name="model">The model it was loaded into, or a copy of it holding some rows of the unembedding (<see cref="GptModel.WithHeadRows"/>).</param>
    /// <param name="optimizer">AdamW over the model's parameters.</param>
    public static void RestoreOptimizer(Checkpoint checkpoint, GptModel model, AdamW optimizer)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        var ps = model.Parameters;
        for (int i = 0; i < ps.Count; i++)
        {
            // A model holding some rows of the unembedding (a rank of a vocabulary-parallel head) takes those rows.
            int from = ReferenceEquals(ps[i], model.UntiedHead) ? model.HeadRows.Offset * model.Config.Dim : 0;
            checkpoint.M[ps[i].Name].Data.AsSpan(from, ps[i].Length).CopyTo(optimizer.FirstMoments[i]);
            checkpoint.V[ps[i].Name].Data.AsSpan(from, ps[i].Length).CopyTo(optimizer.SecondMoments[i]);
        }
        optimizer.StepCount = checkpoint.OptimizerStep > int.MaxValue
            ? throw new TrainingInputException($"Checkpoint optimizer step {checkpoint.OptimizerStep} is too large.")
            : (int)checkpoint.OptimizerStep;
    }
}
