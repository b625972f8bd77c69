using Xent.Optim;
using Xent.Training.Model;

namespace Xent.Training;

/// <summary>
/// One training step of a <see cref="GptModel"/>: forward + backward, global-norm clipping, the scheduled
/// learning rate and an AdamW update. The optimizer state is <see cref="Optimizer"/> (moments per parameter in
/// the order of <see cref="GptModel.Parameters"/>, and the step count) for checkpoints.
/// </summary>
public sealed class Trainer
{
    private readonly float[][] data;
    private readonly float[][] grads;

    // GlobalNorm's items and their sums, the same every step.
    private readonly (int Tensor, int Start, int Length)[] normItems;
    private readonly double[] normSums;

    /// <summary>Creates a trainer with fresh optimizer state (step 0).</summary>
    /// <param name="model">The model to train (updated in place).</param>
    /// <param name="options">Hyper-parameters, validated here (<see cref="TrainerOptions.Validate"/>); null for the defaults.</param>
    public Trainer(GptModel model, TrainerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
        Options = options ?? new TrainerOptions();

        // Here rather than at the first step, after its forward and backward passes (or never, for a NaN clip norm).
        Options.Validate();
        var ps = model.Parameters;
        data = [.. ps.Select(p => p.Data)];
        grads = [.. ps.Select(p => p.Grad)];
        normItems = GradientClipping.Chunks(grads);
        normSums = new double[normItems.Length];
        Optimizer = new AdamW(Options.Optimizer, [.. ps.Select(p => p.Length)],
            [.. ps.Select(p => !Options.DecayMatricesOnly || p.Shape.Length == 2)]);
    }

    /// <summary>The model.</summary>
    public GptModel Model { get; }

    /// <summary>The hyper-parameters.</summary>
    public TrainerOptions Options { get; }

    /// <summary>AdamW state: moments in parameter order and <see cref="AdamW.StepCount"/> (= steps done).</summary>
    public AdamW Optimizer { get; }

    /// <summary>
    /// Trains on one batch. A non-finite loss or gradient norm leaves parameters and optimizer state untouched and
    /// returns <see cref="TrainStepResult.Updated"/> = false. <see cref="Parameter.Grad"/> keeps the unclipped
    /// gradients (the clipping factor is applied inside the AdamW update).
    /// </summary>
    /// <param name="tokens">Input tokens [B, T].</param>
    /// <param name="targets">Targets [B, T] (tokens shifted by one).</param>
    /// <param name="batch">B.</param>
    /// <param name="seq">T.</param>
    public TrainStepResult Step(ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, int batch, int seq) =>
        Apply(Model.ForwardBackward(tokens, targets, batch, seq, Optimizer.StepCount));

    /// <summary>
    /// Completes a step whose gradients the caller has put in <see cref="Parameter.Grad"/> (data-parallel ranks
    /// reduce theirs first): the norm, clipping, the scheduled learning rate and the AdamW update, as <see cref="Step"/>.
    /// </summary>
    /// <param name="loss">The batch's mean loss those gradients are of.</param>
    /// <param name="gradientNorm">
    /// The global norm of the whole model's gradient when this process holds only part of it (a vocabulary-parallel
    /// head: the ranks' parts of the unembedding's gradient count too); null to compute it from the gradients here.
    /// </param>
    public TrainStepResult Apply(float loss, float? gradientNorm = null)
    {
        int step = Optimizer.StepCount;
        float lr = Options.Schedule.LearningRate(step);
        float norm = gradientNorm ?? GradientClipping.GlobalNorm(grads, normItems, normSums, Model.MaxDegreeOfParallelism);
        if (!float.IsFinite(loss) || !float.IsFinite(norm))
        {
            return new TrainStepResult(step, loss, norm, lr, false);
        }

        // The clipping factor is applied as AdamW reads the gradients: one pass over them fewer.
        float scale = Options.MaxGradientNorm > 0 ? GradientClipping.ClipFactor(norm, Options.MaxGradientNorm) : 1f;
        Optimizer.Step(data, grads, lr, scale);
        return new TrainStepResult(step, loss, norm, lr, true);
    }
}
