namespace Xent.Training.Runs;

/// <summary>How a run ended.</summary>
public enum TrainingStatus
{
    /// <summary>All <see cref="TrainingPlan.TotalSteps"/> done.</summary>
    Completed,

    /// <summary>Cancelled: stopped after a step, with a checkpoint of it.</summary>
    Interrupted,

    /// <summary>The loss, gradient norm or validation loss became NaN or infinite; the last good checkpoint is kept.</summary>
    NonFinite,
}
