using System.Runtime.CompilerServices;

namespace Xent.Kernels;

/// <summary>Turning a row's folded state into its loss, its outputs and its gradient coefficients.</summary>
internal sealed unsafe partial class CrossEntropyKernel
{
    private RowGradient FinishRow(int n, in RowAccumulator state, float targetLogit) => FinishRowInline(n, state, targetLogit);

    /// <summary>
    /// <see cref="FinishRow"/> inlined, for a loop that keeps each row's result in an array: returned from a call, the
    /// result was written field by field and then copied with wider loads, which the core cannot forward from the
    /// narrower stores just made (a stall of every row).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private RowGradient FinishRowInline(int n, in RowAccumulator state, float targetLogit)
    {
        if (SoftTargets)
        {
            return FinishSoftRow(n, state);
        }

        if (!FinishLoss(n, Kept(n), state, targetLogit, out LogSumExpParts lse, out double wy) || !HasGradient)
        {
            // Only a gradient reads the rest (its coefficients cost an exp in double a row).
            return default;
        }

        (double a, double b) = Scales(n);
        double lseUpstream = request.LogSumExpUpstream == null ? 0 : request.LogSumExpUpstream[n];
        var terms = Terms(a, b, wy, lse, lseUpstream);
        return new RowGradient
        {
            Kept = true,
            LogSumExp = lse,
            TargetLogit = targetLogit,
            TargetWeight = wy,
            A = a,
            B = b,
            LogSumExpUpstream = lseUpstream,
            UseWeights = smoothing > 0f,
            Coefficients = terms.Coefficients(),
            Multiplier = terms.K,
        };
    }

    /// <summary>
    /// A class-index row's forward outputs: its log-sum-exp where asked, and its loss (0 where ignored). The first half
    /// of <see cref="FinishRow"/>, which a call without gradient takes alone: in the loop of short rows, going
    /// through <see cref="FinishRow"/> and its return of the gradient's coefficients took 1.1x the time of <c>Loss</c> of
    /// 2048 rows of 32 classes (one Zen 4 core, 512 bits).
    /// </summary>
    /// <param name="n">The row.</param>
    /// <param name="kept">Whether the row is kept (<see cref="Kept"/>: its target not ignored).</param>
    /// <param name="state">The row's folded statistics.</param>
    /// <param name="targetLogit">z[n, y] (soft-capped), read before any write over the row.</param>
    /// <param name="lse">lse[n].</param>
    /// <param name="targetWeight">w[y] where kept, else 0.</param>
    /// <returns><paramref name="kept"/>.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool FinishLoss(int n, bool kept, in RowAccumulator state, float targetLogit, out LogSumExpParts lse, out double targetWeight)
    {
        lse = StoreLogSumExp(n, state);
        targetWeight = 0;
        if (!kept)
        {
            StoreLoss(n, default);
            return false;
        }

        int y = request.Targets[n];
        targetWeight = request.Weights == null ? 1.0 : request.Weights[y];
        StoreLoss(n, RowLoss.ClassIndex(constants, targetWeight, lse, targetLogit, state.WeightedLogits));
        return true;
    }

    /// <summary>Row n's log-sum-exp, written to the caller's lse output where one is asked for.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private LogSumExpParts StoreLogSumExp(int n, in RowAccumulator state)
    {
        var lse = state.LogSumExpParts;
        if (request.LogSumExp != null)
        {
            request.LogSumExp[n] = (float)lse.Value;
        }

        return lse;
    }

    /// <summary>A probability-target row's outputs, loss and gradient: dL/dz[c] = K p[c] - w[c] (C1 + C2 t[c]) with t' = (1 - e) t + e / C.</summary>
    private RowGradient FinishSoftRow(int n, in RowAccumulator state)
    {
        LogSumExpParts lse = StoreLogSumExp(n, state);

        (double a, double b) = Scales(n);
        double e = constants.Smoothing, perClass = constants.PerClass;
        double zGrad = constants.ZLoss > 0 ? 2.0 * b * constants.ZLoss * lse.Value : 0.0;
        double wt = ((1 - e) * state.WeightedTargets) + (e > 0 ? perClass * constants.WeightTotal : 0);
        // Absent, not 0 x -inf, when e = 1: t' is e / C alone, and a -inf logit where t > 0 makes the loss +inf.
        double wtz = (e < 1 ? (1 - e) * state.WeightedTargetLogits : 0) + (e > 0 ? perClass * state.WeightedLogits : 0);
        StoreLoss(n, RowLoss.Probabilities(constants, lse, wt, wtz));
        if (!HasGradient)
        {
            return default; // as in FinishRow
        }

        // K beyond float's range (the z-loss term at lse near float.MaxValue): as a float and a power of two.
        double multiplier = (a * wt) + zGrad;
        var k = WideMultiplier.Of(multiplier * lse.FloatCorrection);
        return new RowGradient
        {
            Kept = true,
            LogSumExp = lse,
            A = a,
            B = b,
            UseWeights = true,
            Multiplier = multiplier,
            Coefficients = new GradientCoefficients
            {
                LogSumExp = (float)lse.Value,
                K = k.Value,
                KScale = k.Scale,
                C1 = (float)(a * perClass),
                C2 = (float)(a * (1 - e)),
                InverseCap = InverseSoftCap,
            },
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ClassIndexRowGradient Terms(double a, double b, double targetWeight, LogSumExpParts lse, double lseUpstream) =>
        new(constants, a, b, targetWeight, lse, lseUpstream);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void StoreLoss(int n, RowLoss loss)
    {
        if (request.Losses != null)
        {
            request.Losses[n] = (float)loss.Total;
        }

        if (rowTerms != null)
        {
            MainTerm(n) = loss.Main;
            ZTerm(n) = loss.ZTerm;
        }
    }

    /// <summary>z[n, y], soft-capped bit for bit as its block's lanes cap it.</summary>
    private float TargetLogit(int n, int y)
    {
        nint at = RowOffset(n) + y;
        float x = request.Element switch
        {
            ElementKind.Half => (float)((Half*)request.Logits)[at],
            ElementKind.BFloat16 => (float)((BFloat16*)request.Logits)[at],
            _ => ((float*)request.Logits)[at],
        };
        return CappedAsItsBlock(request.Width, classes, y, x, cap);
    }

    /// <summary>
    /// Column <paramref name="y"/>'s logit <paramref name="x"/> of a row of <paramref name="classes"/> soft-capped bit for
    /// bit as the lanes of its block cap it: the width those lanes take for the block's length decides the tanh's
    /// rounding, and a target at the row's max must be that max.
    /// </summary>
    internal static float CappedAsItsBlock(VectorWidth width, int classes, int y, float x, float cap)
    {
        int column = y / BlockColumns * BlockColumns;
        return VectorMath.SoftCap(width, Math.Min(BlockColumns, classes - column), x, cap);
    }

    /// <summary>The spec's per-row gradient scales a (cross-entropy terms) and b (z-loss term).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private (double A, double B) Scales(int n) =>
        request.Scaling == GradientScaling.PerRow ? kept.Scales(Reduction.None, request.RowUpstream[n]) : callScales;
}
