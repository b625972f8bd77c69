namespace Xent.Optim;

/// <summary>
/// Learning rate with linear warm-up then cosine decay (as in GPT-2/3 and llm.c). For a 0-based step s:
/// <list type="bullet">
/// <item>s &lt; WarmupSteps: MaxLearningRate * (s + 1) / WarmupSteps (the first step already moves);</item>
/// <item>WarmupSteps &lt;= s &lt; TotalSteps: Min + (Max - Min) * (1 + cos(pi * r)) / 2 with
///   r = (s - WarmupSteps) / (TotalSteps - WarmupSteps), so Max right after warm-up, falling towards Min;</item>
/// <item>s &gt;= TotalSteps: MinLearningRate.</item>
/// </list>
/// </summary>
public sealed record CosineSchedule
{
    /// <summary>Steps of linear warm-up, &gt;= 0. Default 0.</summary>
    public int WarmupSteps { get; init; }

    /// <summary>Total steps; the cosine reaches the minimum here. Default 1000.</summary>
    public int TotalSteps { get; init; } = 1000;

    /// <summary>Peak learning rate, reached at the end of warm-up. Default 1e-3.</summary>
    public float MaxLearningRate { get; init; } = 1e-3f;

    /// <summary>Final learning rate. Default 1e-4 (a tenth of the default peak).</summary>
    public float MinLearningRate { get; init; } = 1e-4f;

    /// <summary>The learning rate of 0-based step <paramref name="step"/>.</summary>
    /// <param name="step">Step index, &gt;= 0.</param>
    public float LearningRate(int step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        Validate();
        if (step < WarmupSteps)
        {
            return (float)((double)MaxLearningRate * (step + 1) / WarmupSteps);
        }

        if (step >= TotalSteps)
        {
            return MinLearningRate;
        }

        double ratio = (double)(step - WarmupSteps) / (TotalSteps - WarmupSteps);
        double coefficient = 0.5 * (1 + Math.Cos(Math.PI * ratio));
        return (float)(MinLearningRate + (coefficient * (MaxLearningRate - MinLearningRate)));
    }

    /// <summary>
    /// Throws <see cref="ArgumentOutOfRangeException"/> naming the first bad setting: negative step counts, or a
    /// rate that is negative, NaN or infinite. <see cref="LearningRate"/> calls it.
    /// </summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(WarmupSteps);
        ArgumentOutOfRangeException.ThrowIfNegative(TotalSteps);
        CheckRate(MaxLearningRate, nameof(MaxLearningRate));
        CheckRate(MinLearningRate, nameof(MinLearningRate));
    }

    private static void CheckRate(float rate, string name)
    {
        if (!(rate >= 0) || float.IsInfinity(rate))
        {
            throw new ArgumentOutOfRangeException(name, rate, $"{name} must be finite and >= 0.");
        }
    }
}
