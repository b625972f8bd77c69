namespace Xent.Training.Model;

/// <summary>
/// The loss head of a <see cref="GptModel"/> when it is not <see cref="LinearCrossEntropy"/> on the whole unembedding
/// in this process (<see cref="GptModel.LossHead"/>): Xent.Distributed's vocabulary-parallel head, where each process
/// holds some rows of W. The model gives it the final hidden states (after ln_f) and the rows of W it holds.
/// </summary>
public interface ILossHead
{
    /// <summary>The loss of an evaluation (<see cref="GptModel.Loss"/>).</summary>
    /// <param name="hidden">Final hidden states h [N, D].</param>
    /// <param name="weight">The rows of the unembedding this model holds, [V_r, D] (<see cref="GptModel.HeadRows"/>).</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="options">The model's loss options.</param>
    /// <returns>What <see cref="GptModel.Loss"/> returns: the mean loss.</returns>
    float Loss(ReadOnlySpan<float> hidden, ReadOnlySpan<float> weight, ReadOnlySpan<int> targets, CrossEntropyOptions options);

    /// <summary>The loss of a training step and its gradients (<see cref="GptModel.ForwardBackward"/>).</summary>
    /// <param name="hidden">Final hidden states h [N, D].</param>
    /// <param name="weight">The rows of the unembedding this model holds, [V_r, D].</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="gradients">Destinations, overwritten: dL/dh [N, D] (backpropagated through the model) and dL/dW for the rows held [V_r, D].</param>
    /// <param name="options">The model's loss options.</param>
    /// <returns>What <see cref="GptModel.ForwardBackward"/> returns.</returns>
    float LossAndGradients(ReadOnlySpan<float> hidden, ReadOnlySpan<float> weight, ReadOnlySpan<int> targets, LinearCrossEntropyGradients gradients,
        LinearCrossEntropyOptions options);
}
