namespace Xent.Training.Runs;

/// <summary>
/// Tracks the validation losses of a run: the best one and its step (the checkpoint kept as the best), and, with a
/// patience N &gt; 0, whether N evaluations in a row have not improved on it (the run may stop).
/// </summary>
public sealed class EarlyStopping
{
    /// <summary>Starts with no measurement.</summary>
    /// <param name="patience">Evaluations without improvement after which <see cref="ShouldStop"/> is true; 0 never stops.</param>
    public EarlyStopping(int patience)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(patience);
        Patience = patience;
    }

    /// <summary>Evaluations without improvement that stop the run (0: never).</summary>
    public int Patience { get; }

    /// <summary>The lowest validation loss so far (+infinity before any).</summary>
    public double BestLoss { get; private set; } = double.PositiveInfinity;

    /// <summary>The step of <see cref="BestLoss"/> (-1 before any).</summary>
    public long BestStep { get; private set; } = -1;

    /// <summary>Evaluations since the last improvement.</summary>
    public int SinceImprovement { get; private set; }

    /// <summary>Whether the patience has run out.</summary>
    public bool ShouldStop => Patience > 0 && SinceImprovement >= Patience;

    /// <summary>
    /// Takes up a run resumed from a checkpoint: its best validation loss and step, and the evaluations since that
    /// did not improve on it, so the patience goes on where the run was stopped.
    /// </summary>
    /// <param name="step">The step of the best validation loss.</param>
    /// <param name="loss">The best validation loss.</param>
    /// <param name="evaluationsSince">Evaluations after <paramref name="step"/>, none of them lower.</param>
    public void Resume(long step, double loss, int evaluationsSince)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(evaluationsSince);
        (BestLoss, BestStep, SinceImprovement) = (loss, step, evaluationsSince);
    }

    /// <summary>Records a validation loss; returns true when it is a new best (strictly lower; NaN never is).</summary>
    /// <param name="step">The step it was measured at.</param>
    /// <param name="loss">The validation loss.</param>
    public bool Record(long step, double loss)
    {
        if (loss < BestLoss)
        {
            (BestLoss, BestStep, SinceImprovement) = (loss, step, 0);
            return true;
        }

        SinceImprovement++;
        return false;
    }
}
