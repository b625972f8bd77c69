namespace Xent.Reference;

/// <summary>
/// The plain scalar float64 reference of the loss, written straight from <c>docs/spec/cross-entropy.md</c>:
/// no vectors, no threads, no cleverness beyond the max subtraction. Every optimised path is tested against it,
/// and it is kept forever as the readable definition of what Xent computes. It is slow; use
/// <see cref="CrossEntropy"/> for real work.
/// </summary>
/// <remarks>Shapes: N rows (tokens), V classes. logits [N, V] row-major, targets [N], class weights [V].</remarks>
public static class CrossEntropyReference
{
    /// <summary>Per-row log-sum-exp of the (soft-capped) logits, lse [N].</summary>
    /// <param name="logits">Logits [N, V].</param>
    /// <param name="rows">N.</param>
    /// <param name="softCap">Soft cap s (0 = off).</param>
    public static double[] LogSumExp(ReadOnlySpan<float> logits, int rows, float softCap = 0f)
    {
        int v = CrossEntropyChecks.VocabularySize(logits.Length, rows);
        var lse = new double[rows];
        var o = new CrossEntropyOptions { SoftCap = softCap };
        var w = CrossEntropyRowTrace.Weights(o, v);
        for (int n = 0; n < rows; n++)
        {
            lse[n] = Softmax(logits.Slice(n * v, v), o, w).LogSumExp;
        }

        return lse;
    }

    /// <summary>Per-row losses r [N] for class-index targets (0 for ignored rows).</summary>
    /// <param name="logits">Logits [N, V].</param>
    /// <param name="targets">Targets [N], each in [0, V) or the ignore index.</param>
    /// <param name="options">Options; Reduction is not used.</param>
    public static double[] RowLosses(ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, CrossEntropyOptions? options = null)
    {
        var o = options ?? CrossEntropyOptions.Default;
        int v = Check(logits, targets, o);
        var terms = RowTerms(logits, targets, o, v, Weights(o, v));
        var r = new double[targets.Length];
        for (int n = 0; n < r.Length; n++)
        {
            r[n] = terms[n].Main + terms[n].Z;
        }

        return r;
    }

    /// <summary>The reduced loss (Mean or Sum) for class-index targets.</summary>
    /// <param name="logits">Logits [N, V].</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="options">Options; Reduction must be Mean or Sum.</param>
    public static double Loss(ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, CrossEntropyOptions? options = null)
    {
        var o = options ?? CrossEntropyOptions.Default;
        RequireReduced(o);
        int v = Check(logits, targets, o);
        var w = Weights(o, v);
        var terms = RowTerms(logits, targets, o, v, w);
        double main = 0, zsum = 0, weightSum = 0;
        int kept = 0;
        for (int n = 0; n < targets.Length; n++)
        {
            int y = targets[n];
            if (y != o.IgnoreIndex)
            {
                main += terms[n].Main;
                zsum += terms[n].Z;
                weightSum += w[y];
                kept++;
            }
        }

        if (o.Reduction == Reduction.Sum)
        {
            return main + zsum;
        }

        return kept == 0 ? double.NaN : (main / weightSum) + (o.ZLoss > 0 ? zsum / kept : 0);
    }

    /// <summary>d(loss)/d(logits) [N, V] of the reduced loss (Mean or Sum) times the upstream gradient g.</summary>
    /// <param name="logits">Logits [N, V].</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="options">Options; Reduction must be Mean or Sum.</param>
    /// <param name="upstream">Upstream gradient g (1 for a plain loss).</param>
    public static double[] Gradient(ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, CrossEntropyOptions? options = null, double upstream = 1)
    {
        var o = options ?? CrossEntropyOptions.Default;
        RequireReduced(o);
        int v = Check(logits, targets, o);
        var w = Weights(o, v);
        double a = upstream, b = upstream;
        if (o.Reduction == Reduction.Mean)
        {
            double weightSum = 0;
            int kept = 0;
            foreach (int y in targets)
            {
                if (y != o.IgnoreIndex)
                {
                    weightSum += w[y];
                    kept++;
                }
            }

            if (kept == 0)
            {
                return new double[logits.Length];
            }

            a = upstream / weightSum;
            b = upstream / kept;
        }

        var grad = new double[logits.Length];
        for (int n = 0; n < targets.Length; n++)
        {
            RowGradient(logits, targets, o, w, n, v, a, b, grad);
        }

        return grad;
    }

    /// <summary>d(sum_n g[n] r[n])/d(logits) [N, V]: the backward of the per-row losses (Reduction.None).</summary>
    /// <param name="logits">Logits [N, V].</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="upstream">Upstream gradients g [N], one per row.</param>
    /// <param name="options">Options; Reduction is not used.</param>
    public static double[] Gradient(ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, ReadOnlySpan<double> upstream, CrossEntropyOptions? options = null)
    {
        var o = options ?? CrossEntropyOptions.Default;
        int v = Check(logits, targets, o);
        if (upstream.Length != targets.Length)
        {
            throw new ArgumentException("upstream must have one entry per row.", nameof(upstream));
        }

        var w = Weights(o, v);
        var grad = new double[logits.Length];
        for (int n = 0; n < targets.Length; n++)
        {
            RowGradient(logits, targets, o, w, n, v, upstream[n], upstream[n], grad);
        }

        return grad;
    }

    /// <summary>Per-row losses r [N] for probability targets t [N, V].</summary>
    /// <param name="logits">Logits [N, V].</param>
    /// <param name="probabilities">Target distributions t [N, V].</param>
    /// <param name="classes">V.</param>
    /// <param name="options">Options; IgnoreIndex and Reduction are not used.</param>
    public static double[] RowLosses(ReadOnlySpan<float> logits, ReadOnlySpan<float> probabilities, int classes, CrossEntropyOptions? options = null)
    {
        var o = options ?? CrossEntropyOptions.Default;
        int v = classes;
        int rows = SoftRows(logits, probabilities, o, v);
        var w = Weights(o, v);
        var r = new double[rows];
        for (int n = 0; n < rows; n++)
        {
            var trace = Softmax(logits.Slice(n * v, v), o, w);
            double lse = trace.LogSumExp;
            var t = probabilities.Slice(n * v, v);
            double sum = 0;
            for (int c = 0; c < v; c++)
            {
                sum -= w[c] * SmoothedTarget(t[c], o.LabelSmoothing, v) * trace.LogProbabilities[c];
            }

            r[n] = sum + CrossEntropyRowTrace.ZTermOf(lse, o.ZLoss);
        }

        return r;
    }

    /// <summary>The reduced loss for probability targets: Sum, or Mean dividing by N (not by weights).</summary>
    /// <param name="logits">Logits [N, V].</param>
    /// <param name="probabilities">Target distributions t [N, V].</param>
    /// <param name="classes">V.</param>
    /// <param name="options">Options; Reduction must be Mean or Sum.</param>
    public static double Loss(ReadOnlySpan<float> logits, ReadOnlySpan<float> probabilities, int classes, CrossEntropyOptions? options = null)
    {
        var o = options ?? CrossEntropyOptions.Default;
        RequireReduced(o);
        var r = RowLosses(logits, probabilities, classes, o);
        double sum = 0;
        foreach (double x in r)
        {
            sum += x;
        }

        return o.Reduction == Reduction.Sum ? sum : sum / r.Length;
    }

    /// <summary>d(loss)/d(logits) [N, V] for probability targets, reduced (Mean divides by N) and scaled by g.</summary>
    /// <param name="logits">Logits [N, V].</param>
    /// <param name="probabilities">Target distributions t [N, V].</param>
    /// <param name="classes">V.</param>
    /// <param name="options">Options; Reduction must be Mean or Sum.</param>
    /// <param name="upstream">Upstream gradient g.</param>
    public static double[] Gradient(ReadOnlySpan<float> logits, ReadOnlySpan<float> probabilities, int classes, CrossEntropyOptions? options = null, double upstream = 1)
    {
        var o = options ?? CrossEntropyOptions.Default;
        RequireReduced(o);
        int v = classes;
        int n0 = SoftRows(logits, probabilities, o, v);
        double a = o.Reduction == Reduction.Mean ? upstream / n0 : upstream;
        var w = Weights(o, v);
        var grad = new double[logits.Length];
        var tp = new double[v];
        for (int n = 0; n < n0; n++)
        {
            var trace = Softmax(logits.Slice(n * v, v), o, w);
            var z = trace.Capped;
            double lse = trace.LogSumExp;
            var t = probabilities.Slice(n * v, v);
            double wt = 0;
            for (int c = 0; c < v; c++)
            {
                tp[c] = SmoothedTarget(t[c], o.LabelSmoothing, v);
                wt += w[c] * tp[c];
            }

            for (int c = 0; c < v; c++)
            {
                double p = trace.Probabilities[c];
                double dz = (a * ((p * wt) - (w[c] * tp[c]))) + (o.ZLoss > 0 ? a * 2 * o.ZLoss * lse * p : 0);
                grad[(n * v) + c] = dz * CrossEntropyRowTrace.CapDerivative(z[c], o.SoftCap);
            }
        }

        return grad;
    }

    private static void RowGradient(ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, CrossEntropyOptions o, double[] w, int n, int v, double a, double b, double[] grad)
    {
        if (targets[n] != o.IgnoreIndex)
        {
            CrossEntropyRowTrace.Of(logits.Slice(n * v, v), targets[n], o, w).AddGradient(a, b, grad.AsSpan(n * v, v));
        }
    }

    // Each row's loss in its two parts: the weighted, smoothed log-likelihood terms (divided by the kept weights
    // under Mean) and the z-loss term (divided by the kept row count). Ignored rows: both 0.
    private static (double Main, double Z)[] RowTerms(ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, CrossEntropyOptions o, int v, double[] w)
    {
        var terms = new (double Main, double Z)[targets.Length];
        for (int n = 0; n < targets.Length; n++)
        {
            if (targets[n] != o.IgnoreIndex)
            {
                var t = CrossEntropyRowTrace.Of(logits.Slice(n * v, v), targets[n], o, w);
                terms[n] = (t.Nll + t.SmoothingTerm, t.ZTerm);
            }
        }

        return terms;
    }

    // The soft-capped logits, log-sum-exp and softmax of a row, without a target.
    private static CrossEntropyRowTrace Softmax(ReadOnlySpan<float> row, CrossEntropyOptions o, double[] w) =>
        CrossEntropyRowTrace.Of(row, o.IgnoreIndex, o, w);

    private static double[] Weights(CrossEntropyOptions o, int v) => CrossEntropyRowTrace.Weights(o, v);

    private static double SmoothedTarget(float t, float e, int v) => ((1 - (double)e) * t) + ((double)e / v);

    private static int Check(ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, CrossEntropyOptions o)
    {
        int v = CrossEntropyChecks.VocabularySize(logits.Length, targets.Length);
        CrossEntropyChecks.Options(o, v);
        CrossEntropyChecks.Targets(targets, v, o.IgnoreIndex);
        return v;
    }

    private static int SoftRows(ReadOnlySpan<float> logits, ReadOnlySpan<float> probabilities, CrossEntropyOptions o, int v)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(v, 1, "classes");
        if (logits.Length % v != 0)
        {
            throw new ArgumentException($"The logits' length {logits.Length} is not a multiple of V = {v}.", nameof(logits));
        }

        if (probabilities.Length != logits.Length)
        {
            throw new ArgumentException("Probability targets must have the logits' shape [N, V].", nameof(probabilities));
        }

        CrossEntropyChecks.Options(o, v);
        return logits.Length / v;
    }

    private static void RequireReduced(CrossEntropyOptions o)
    {
        if (o.Reduction == Reduction.None)
        {
            throw new ArgumentException("Reduction.None has no single loss: use RowLosses.", nameof(o));
        }
    }
}
