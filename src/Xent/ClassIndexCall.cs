using Xent.Kernels;

namespace Xent;

/// <summary>
/// Validates a call with class-index targets completely (so that nothing is written on bad input), then runs
/// the kernel. Shared by the span, Half, bfloat16 and pointer overloads: logits arrive as an address and a 64-bit length.
/// </summary>
internal static unsafe class ClassIndexCall
{
    // The options of the last LogSumExp call with a soft cap: immutable, so threads may share and replace them freely.
    private static CrossEntropyOptions? lastLogSumExpOptions;

    public static double Run(void* logits, long logitsLength, ElementKinds elements, ReadOnlySpan<int> targets, CrossEntropyOptions? options, CallKind kind,
        Span<float> losses = default, bool lossesRequired = false, Span<float> logSumExp = default, bool logSumExpRequired = false,
        void* gradient = null, long gradientLength = 0, float upstream = 1f, ReadOnlySpan<float> rowUpstream = default,
        ReadOnlySpan<float> logSumExpUpstream = default, LossParts* parts = null)
    {
        var o = options ?? CrossEntropyOptions.Default;
        bool reduce = kind is CallKind.Loss or CallKind.LossAndGradient;
        if (reduce && o.Reduction == Reduction.None)
        {
            string instead = kind == CallKind.Loss ? "LossPerRow" : "Gradient with per-row upstream gradients";
            throw new ArgumentException($"Reduction.None has no single loss: call {instead}.", nameof(options));
        }

        int rows = targets.Length;
        int classes = CrossEntropyChecks.VocabularySize(logitsLength, rows);
        CrossEntropyChecks.Options(o, classes);
        CrossEntropyChecks.Targets(targets, classes, o.IgnoreIndex);
        if (lossesRequired)
        {
            CrossEntropyChecks.Destination(losses.Length, rows, nameof(losses));
        }

        if (logSumExpRequired || !logSumExp.IsEmpty)
        {
            CrossEntropyChecks.Destination(logSumExp.Length, rows, nameof(logSumExp));
        }

        bool withGradient = kind is CallKind.LossAndGradient or CallKind.Backward;
        if (withGradient)
        {
            CrossEntropyChecks.Destination(gradientLength, logitsLength, nameof(gradient));
            CrossEntropyChecks.InPlaceOrDisjoint(logits, gradient, logitsLength, elements.LogitsSize, elements.GradientSize);
        }

        if (kind == CallKind.Backward && rowUpstream.Length != rows)
        {
            throw new ArgumentException($"upstream has {rowUpstream.Length} entries but there are N = {rows} rows.", "upstream");
        }

        if (!logSumExpUpstream.IsEmpty && logSumExpUpstream.Length != rows)
        {
            throw new ArgumentException($"logSumExpGradient has {logSumExpUpstream.Length} entries but there are N = {rows} rows.", "logSumExpGradient");
        }

        using var weights = o.ClassWeights.Pin();
        fixed (int* y = targets)
        fixed (float* r = losses)
        fixed (float* lse = logSumExp)
        fixed (float* g = rowUpstream, lseUp = logSumExpUpstream)
        {
            float* w = o.ClassWeights.IsEmpty ? null : (float*)weights.Pointer;
            long rowBytes = (long)rows * sizeof(float);
            long lossesBytes = lossesRequired ? rowBytes : 0, lseBytes = logSumExp.IsEmpty ? 0 : rowBytes;
            long gradientBytes = withGradient ? logitsLength * elements.GradientSize : 0;
            long upstreamBytes = kind == CallKind.Backward ? rowBytes : 0, lseUpstreamBytes = logSumExpUpstream.IsEmpty ? 0 : rowBytes;
            long logitsBytes = logitsLength * elements.LogitsSize, weightsBytes = (long)o.ClassWeights.Length * sizeof(float);
            CrossEntropyChecks.Disjoint(r, lossesBytes, nameof(losses), logits, logitsBytes, "logits");
            CrossEntropyChecks.Disjoint(r, lossesBytes, nameof(losses), lse, lseBytes, nameof(logSumExp));
            CrossEntropyChecks.Disjoint(r, lossesBytes, nameof(losses), y, rowBytes, nameof(targets));
            CrossEntropyChecks.Disjoint(r, lossesBytes, nameof(losses), w, weightsBytes, "options.ClassWeights");
            CrossEntropyChecks.Disjoint(r, lossesBytes, nameof(losses), gradient, gradientBytes, nameof(gradient));
            CrossEntropyChecks.Disjoint(lse, lseBytes, nameof(logSumExp), logits, logitsBytes, "logits");
            CrossEntropyChecks.Disjoint(lse, lseBytes, nameof(logSumExp), gradient, gradientBytes, nameof(gradient));
            CrossEntropyChecks.Disjoint(lse, lseBytes, nameof(logSumExp), y, rowBytes, nameof(targets));
            CrossEntropyChecks.Disjoint(lse, lseBytes, nameof(logSumExp), lseUp, lseUpstreamBytes, "logSumExpGradient");
            CrossEntropyChecks.Disjoint(lse, lseBytes, nameof(logSumExp), w, weightsBytes, "options.ClassWeights");
            CrossEntropyChecks.Disjoint(gradient, gradientBytes, nameof(gradient), y, rowBytes, nameof(targets));
            CrossEntropyChecks.Disjoint(gradient, gradientBytes, nameof(gradient), g, upstreamBytes, "upstream");
            CrossEntropyChecks.Disjoint(gradient, gradientBytes, nameof(gradient), lseUp, lseUpstreamBytes, "logSumExpGradient");
            CrossEntropyChecks.Disjoint(gradient, gradientBytes, nameof(gradient), w, weightsBytes, "options.ClassWeights");
            var request = new KernelRequest
            {
                Logits = logits,
                Element = elements.Logits,
                GradientElement = elements.Gradient,
                Rows = rows,
                Classes = classes,
                Targets = y,
                Weights = w, // an empty array pins to a pointer too
                Options = o,
                Width = Simd.Width,
                Losses = lossesRequired ? r : null,
                LogSumExp = logSumExp.IsEmpty ? null : lse,
                Gradient = withGradient ? gradient : null,
                Scaling = kind == CallKind.Backward ? GradientScaling.PerRow : GradientScaling.Reduced,
                Upstream = upstream,
                RowUpstream = g,
                LogSumExpUpstream = withGradient && !logSumExpUpstream.IsEmpty ? lseUp : null,
                Reduce = reduce,
            };
            double loss = CrossEntropyKernel.Run(request, out var lossParts);
            if (parts != null)
            {
                *parts = lossParts;
            }

            return loss;
        }
    }

    /// <summary>Per-row log-sum-exp only: every row is forward-only, no targets.</summary>
    public static void LogSumExp(void* logits, long logitsLength, ElementKinds elements, Span<float> destination, float softCap)
    {
        int rows = destination.Length;
        int classes = CrossEntropyChecks.VocabularySize(logitsLength, rows);
        var o = LogSumExpOptions(softCap);
        CrossEntropyChecks.Options(o, classes);
        fixed (float* lse = destination)
        {
            CrossEntropyChecks.Disjoint(lse, (long)rows * sizeof(float), nameof(destination), logits, logitsLength * elements.LogitsSize, "logits");
            CrossEntropyKernel.Run(new KernelRequest
            {
                Logits = logits,
                Element = elements.Logits,
                Rows = rows,
                Classes = classes,
                Options = o,
                Width = Simd.Width,
                LogSumExp = lse,
            }, out _);
        }
    }

    // Options with this soft cap, the last call's when it had the same cap: options made per call were garbage.
    private static CrossEntropyOptions LogSumExpOptions(float softCap)
    {
        if (softCap == 0f)
        {
            return CrossEntropyOptions.Default;
        }

        var last = lastLogSumExpOptions;
        if (last is null || !last.SoftCap.Equals(softCap))
        {
            last = lastLogSumExpOptions = new CrossEntropyOptions { SoftCap = softCap };
        }

        return last;
    }
}
