namespace Xent.Kernels;

/// <summary>What a row's gradient needs from its forward, captured before an in-place write can clobber it.</summary>
internal readonly struct RowGradient
{
    public bool Kept { get; init; }

    public LogSumExpParts LogSumExp { get; init; }

    /// <summary>z[y] (soft-capped), read before the gradient overwrites it.</summary>
    public float TargetLogit { get; init; }

    public double TargetWeight { get; init; }

    /// <summary>Scale of the cross-entropy terms (spec: a).</summary>
    public double A { get; init; }

    /// <summary>Scale of the z-loss term (spec: b).</summary>
    public double B { get; init; }

    /// <summary>The caller's dL/dlse for the row (0 when none was given).</summary>
    public double LogSumExpUpstream { get; init; }

    /// <summary>Whether the per-column term reads the class weights.</summary>
    public bool UseWeights { get; init; }

    public GradientCoefficients Coefficients { get; init; }

    /// <summary>
    /// K, the multiplier of p, in double and without <see cref="LogSumExpParts.FloatCorrection"/>: a row of one block
    /// scales its stored exp(z - m) by K / s (see <see cref="CrossEntropyKernel"/>'s BlockScale).
    /// </summary>
    public double Multiplier { get; init; }
}
