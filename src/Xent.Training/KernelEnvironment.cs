namespace Xent.Training;

/// <summary>
/// Xent's environment variables (XENT_VECTOR_WIDTH, XENT_L2_KB, XENT_STREAM_GRADIENT), checked before a command
/// prepares anything. The kernels report a value they do not take at their first call, which for xent train came
/// after the text was read, encoded and its baseline fitted, with the run folder made and an empty metrics.jsonl left
/// in it; for xent bench after seconds of memory timing; for xent eval after the text was encoded.
/// </summary>
internal static class KernelEnvironment
{
    /// <summary>Throws what the kernels would throw at their first call.</summary>
    /// <exception cref="InvalidOperationException">A variable holds a value its setting does not take; the message names it.</exception>
    public static void Check() => _ = Simd.Width;

    /// <summary><see cref="Check"/>, and the variable of the training loop's warm-up (XENT_WARMUP).</summary>
    /// <exception cref="InvalidOperationException">A variable holds a value its setting does not take; the message names it.</exception>
    public static void CheckTraining()
    {
        Check();
        if (CompileWarmup.EnvironmentProblem is { } problem)
        {
            throw new InvalidOperationException(problem);
        }
    }
}
