using Xent.Kernels;

namespace Xent;

/// <summary>Validates a call with probability targets completely, then runs the kernel.</summary>
internal static unsafe class ProbabilityCall
{
    public static double Run(float* logits, long logitsLength, ReadOnlySpan<float> probabilities, int classes, CrossEntropyOptions? options, CallKind kind,
        Span<float> losses = default, float* gradient = null, long gradientLength = 0)
    {
        var o = options ?? CrossEntropyOptions.Default;
        bool reduce = kind is CallKind.Loss or CallKind.LossAndGradient;
        if (reduce && o.Reduction == Reduction.None)
        {
            throw new ArgumentException("Reduction.None has no single loss: call LossPerRow.", nameof(options));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        if (logitsLength % classes != 0)
        {
            throw new ArgumentException($"The logits' length {logitsLength} is not a multiple of V = {classes}.", "logits");
        }

        if (probabilities.Length != logitsLength)
        {
            throw new ArgumentException($"Probability targets must have the logits' shape [N, V]: {probabilities.Length} elements, {logitsLength} expected.", "targetProbabilities");
        }

        int rows = (int)(logitsLength / classes);
        CrossEntropyChecks.Options(o, classes);
        if (kind == CallKind.PerRow)
        {
            CrossEntropyChecks.Destination(losses.Length, rows, nameof(losses));
        }

        bool withGradient = kind == CallKind.LossAndGradient;
        if (withGradient)
        {
            CrossEntropyChecks.Destination(gradientLength, logitsLength, nameof(gradient));
            CrossEntropyChecks.InPlaceOrDisjoint(logits, gradient, logitsLength, sizeof(float));
        }

        using var weights = o.ClassWeights.Pin();
        fixed (float* t = probabilities)
        fixed (float* r = losses)
        {
            float* w = o.ClassWeights.IsEmpty ? null : (float*)weights.Pointer;
            long lossesBytes = kind == CallKind.PerRow ? (long)rows * sizeof(float) : 0, gradientBytes = withGradient ? logitsLength * sizeof(float) : 0;
            long logitsBytes = logitsLength * sizeof(float), weightsBytes = (long)o.ClassWeights.Length * sizeof(float);
            CrossEntropyChecks.Disjoint(r, lossesBytes, nameof(losses), logits, logitsBytes, "logits");
            CrossEntropyChecks.Disjoint(r, lossesBytes, nameof(losses), t, logitsBytes, "targetProbabilities");
            CrossEntropyChecks.Disjoint(r, lossesBytes, nameof(losses), w, weightsBytes, "options.ClassWeights");
            CrossEntropyChecks.Disjoint(gradient, gradientBytes, nameof(gradient), t, logitsBytes, "targetProbabilities");
            CrossEntropyChecks.Disjoint(gradient, gradientBytes, nameof(gradient), w, weightsBytes, "options.ClassWeights");
            return CrossEntropyKernel.Run(new KernelRequest
            {
                Logits = logits,
                Rows = rows,
                Classes = classes,
                Probabilities = t,
                Weights = w, // an empty array pins to a pointer too
                Options = o,
                Width = Simd.Width,
                Losses = kind == CallKind.PerRow ? r : null,
                Gradient = withGradient ? gradient : null,
                Reduce = reduce,
            }, out _);
        }
    }
}
