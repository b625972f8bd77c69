namespace Xent.Kernels;

/// <summary>Turning a row's folded state into its loss, its outputs and its gradient coefficients.</summary>
internal sealed unsafe partial class CrossEntropyKernel
{
    private RowGradient FinishRow(int n, in RowAccumulator state, float targetLogit)
    {
        double lse = state.LogSumExp;
        if (request.LogSumExp != null)
        {
            request.LogSumExp[n] = (float)lse;
        }

        if (!Kept(n))
        {
            StoreLoss(n, 0, 0);
            return default;
        }

        double e = smoothing, perClass = e / classes;
        (double a, double b) = Scales(n);
        double zTerm = zLoss > 0f ? zLoss * lse * lse : 0.0;
        if (SoftTargets)
        {
            double zGrad = zLoss > 0f ? 2.0 * b * zLoss * lse : 0.0;
            // t' = (1 - e) t + e / V; r = lse sum w t' - sum w t' z.
            double wt = ((1 - e) * state.WeightedTargets) + (e > 0 ? perClass * weightTotal : 0);
            double wtz = ((1 - e) * state.WeightedTargetLogits) + (e > 0 ? perClass * state.WeightedLogits : 0);
            StoreLoss(n, (wt * lse) - wtz, zTerm);
            return new RowGradient
            {
                Kept = true,
                LogSumExp = lse,
                A = a,
                B = b,
                UseWeights = true,
                Coefficients = new GradientCoefficients
                {
                    LogSumExp = (float)lse,
                    K = (float)((a * wt) + zGrad),
                    C1 = (float)(a * perClass),
                    C2 = (float)(a * (1 - e)),
                    InverseCap = cap > 0f ? 1f / cap : 0f,
                },
            };
        }

        int y = request.Targets[n];
        float zy = targetLogit;
        double wy = request.Weights == null ? 1.0 : request.Weights[y];
        double main = (1 - e) * wy * (lse - zy);
        if (e > 0)
        {
            main += perClass * ((weightTotal * lse) - state.WeightedLogits); // absent, not 0 x inf, when e = 0
        }

        StoreLoss(n, main, zTerm);
        return new RowGradient
        {
            Kept = true,
            LogSumExp = lse,
            TargetLogit = zy,
            TargetWeight = wy,
            A = a,
            B = b,
            UseWeights = e > 0,
            Coefficients = Terms(a, b, wy, lse).Coefficients(),
        };
    }

    private ClassIndexRowGradient Terms(double a, double b, double targetWeight, double lse) =>
        new(a, b, smoothing, classes, weightTotal, targetWeight, zLoss, lse, cap);

    private void StoreLoss(int n, double main, double zTerm)
    {
        if (request.Losses != null)
        {
            request.Losses[n] = (float)(main + zTerm);
        }

        if (mainTerms != null)
        {
            mainTerms[n] = main;
            zTerms![n] = zTerm;
        }
    }

    /// <summary>z[n, y], soft-capped by the same formula as the vector lanes.</summary>
    private float TargetLogit(int n, int y)
    {
        nint at = RowOffset(n) + y;
        float x = request.Element switch
        {
            ElementKind.Half => (float)((Half*)request.Logits)[at],
            ElementKind.BFloat16 => (float)((BFloat16*)request.Logits)[at],
            _ => ((float*)request.Logits)[at],
        };
        return cap > 0f ? cap * VectorMath.Tanh(x * (1f / cap)) : x;
    }

    /// <summary>The spec's per-row gradient scales a (cross-entropy terms) and b (z-loss term).</summary>
    private (double A, double B) Scales(int n)
    {
        if (request.Scaling == GradientScaling.PerRow)
        {
            double gn = request.RowUpstream[n];
            return (gn, gn);
        }

        double g = request.Upstream;
        if (request.Options.Reduction == Reduction.Sum)
        {
            return (g, g);
        }

        return SoftTargets ? (g / rows, g / rows) : (g / keptWeight, g / keptRows);
    }
}
