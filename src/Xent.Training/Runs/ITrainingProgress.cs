namespace Xent.Training.Runs;

/// <summary>Receives a <see cref="TrainingLoop"/>'s progress, on the training thread.</summary>
public interface ITrainingProgress
{
    /// <summary>Called after each step, once its metrics line is written (and its checkpoint, when evaluated).</summary>
    /// <param name="report">The state after the step.</param>
    void OnStep(StepReport report);

    /// <summary>Called before the first step with what the user should know about the run's files (<see cref="MetricsLog.Warning"/>).</summary>
    /// <param name="warning">One sentence, naming the file.</param>
    void OnWarning(string warning)
    {
    }
}
