using Xent.Training.Checkpoints;
using Xent.Training.Data;

namespace Xent.Tests.Training;

/// <summary>
/// A stand-in checkpoint for the store's tests: a config of a one-layer model (V 3, D <c>dim</c>) and its tensors, an
/// embedding [V, D] and a bias [D], filled with values that tell saves apart by their offset.
/// </summary>
internal static class TinyCheckpoint
{
    public static CheckpointConfig Config(long step, int dim = 4) => new()
    {
        Model = new CheckpointModel { VocabSize = 3, ContextLength = 8, Layers = 1, Heads = 1, Dim = dim },
        Tokenizer = "bytes",
        Seed = 5,
        Step = step,
        Data = new CheckpointData { Source = "markov", CorpusSeed = 1, TrainTokens = 100, ValidationTokens = 10 },
        Training = new CheckpointTraining { Batch = 2, Seq = 8, TotalSteps = 10, LearningRate = 1e-3 },
    };

    /// <summary>The tensors' names and shapes a config implies, as a loader asks for them.</summary>
    public static IReadOnlyList<(string Name, int[] Shape)> Expected(CheckpointConfig c) =>
        [("wte", [c.Model.VocabSize, c.Model.Dim]), ("bias", [c.Model.Dim])];

    /// <summary>The tensors of <paramref name="c"/>, element k of tensor i being offset + 100 i + k / 4.</summary>
    public static SafeTensor[] Tensors(CheckpointConfig c, float offset) =>
        Expected(c).Select((e, i) => new SafeTensor(e.Name, e.Shape,
            Enumerable.Range(0, e.Shape.Aggregate(1, (a, b) => a * b)).Select(k => offset + i * 100 + k * 0.25f).ToArray())).ToArray();
}
