using Xent.Optim;
using Xent.Training.Model;

namespace Xent.Training.Checkpoints;

/// <summary>
/// What a training checkpoint holds, tensor by tensor in parameter order: the weights, AdamW's moments and step. A
/// model's own (<see cref="Of"/>), or one assembled from the parts that several processes hold.
/// </summary>
/// <param name="Weights">Parameters, named and shaped as <see cref="GptModel.Parameters"/> of the whole model.</param>
/// <param name="M">AdamW first moments, the same names and shapes.</param>
/// <param name="V">AdamW second moments, the same names and shapes.</param>
/// <param name="OptimizerStep">AdamW's step count.</param>
public sealed record CheckpointState(IReadOnlyList<SafeTensor> Weights, IReadOnlyList<SafeTensor> M, IReadOnlyList<SafeTensor> V, long OptimizerStep)
{
    /// <summary>The state of a model (holding all of itself) and its AdamW, built over its parameters in order; no copies.</summary>
    /// <param name="model">The model.</param>
    /// <param name="optimizer">Its AdamW.</param>
    public static CheckpointState Of(GptModel model, AdamW optimizer)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        var ps = model.Parameters;
        var weights = new SafeTensor[ps.Count];
        var m = new SafeTensor[ps.Count];
        var v = new SafeTensor[ps.Count];
        for (int i = 0; i < ps.Count; i++)
        {
            weights[i] = new SafeTensor(ps[i].Name, ps[i].Shape, ps[i].Data);
            m[i] = new SafeTensor(ps[i].Name, ps[i].Shape, optimizer.FirstMoments[i]);
            v[i] = new SafeTensor(ps[i].Name, ps[i].Shape, optimizer.SecondMoments[i]);
        }

        return new CheckpointState(weights, m, v, optimizer.StepCount);
    }
}
