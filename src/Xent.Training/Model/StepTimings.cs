namespace Xent.Training.Model;

/// <summary>Wall-clock split of the last model call (forward, or forward + backward).</summary>
/// <param name="Total">The whole call.</param>
/// <param name="LossHead">Inside the loss head (LinearCrossEntropy forward, or forward + backward).</param>
/// <param name="Forward">The forward pass up to the final LayerNorm (excluding the head).</param>
/// <param name="Backward">The backward pass below the head (excluding the head).</param>
public readonly record struct StepTimings(TimeSpan Total, TimeSpan LossHead, TimeSpan Forward, TimeSpan Backward)
{
    /// <summary>Share of <see cref="Total"/> spent in the loss head, in [0, 1].</summary>
    public double LossHeadShare => Total > TimeSpan.Zero ? LossHead / Total : 0;
}
