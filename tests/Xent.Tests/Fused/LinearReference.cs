using Xent.Reference;

namespace Xent.Tests.Fused;

/// <summary>
/// The unfused path the fused kernel must equal: logits by a plain float64 matrix product (rounded to float, as a
/// float32 framework holds them), then the float64 cross-entropy reference, then the two gradient products.
/// </summary>
internal sealed class LinearReference
{
    public LinearReference(float[] hidden, float[] weight, float[]? bias, int[] targets, CrossEntropyOptions options, float[]? rowUpstream = null, float upstream = 1)
    {
        int n = targets.Length, d = hidden.Length / n, v = weight.Length / d;
        var logits = new float[n * v];
        for (int t = 0; t < n; t++)
        {
            for (int c = 0; c < v; c++)
            {
                double s = bias?[c] ?? 0;
                for (int k = 0; k < d; k++)
                {
                    s += (double)hidden[(t * d) + k] * weight[(c * d) + k];
                }

                logits[(t * v) + c] = (float)s;
            }
        }

        Logits = logits;
        RowLosses = CrossEntropyReference.RowLosses(logits, targets, options);
        Lse = CrossEntropyReference.LogSumExp(logits, n, options.SoftCap);
        double[] g;
        if (options.Reduction == Reduction.None)
        {
            var up = rowUpstream?.Select(x => (double)x).ToArray() ?? Enumerable.Repeat(1.0, n).ToArray();
            g = CrossEntropyReference.Gradient(logits, targets, up, options);
            Loss = RowLosses.Sum();
        }
        else
        {
            Loss = CrossEntropyReference.Loss(logits, targets, options);
            g = CrossEntropyReference.Gradient(logits, targets, options, upstream);
        }

        // Each gradient entry's float error is relative to the sum of the absolute values of its terms (p * scale,
        // the target's -1, the smoothing constant, the z-loss term), not to its value, which may cancel to 0.
        var termAbs = TermMagnitudes(logits, targets, options, n, v, rowUpstream, upstream);
        DHidden = new double[n * d];
        DHiddenBound = new double[n * d];
        DWeight = new double[v * d];
        DWeightBound = new double[v * d];
        DBias = new double[v];
        DBiasBound = new double[v];
        for (int t = 0; t < n; t++)
        {
            for (int c = 0; c < v; c++)
            {
                double gv = g[(t * v) + c];
                double ga = termAbs[(t * v) + c];
                DBias[c] += gv;
                DBiasBound[c] += ga;
                for (int k = 0; k < d; k++)
                {
                    DHidden[(t * d) + k] += gv * weight[(c * d) + k];
                    DHiddenBound[(t * d) + k] += Math.Abs(ga * weight[(c * d) + k]);
                    DWeight[(c * d) + k] += gv * hidden[(t * d) + k];
                    DWeightBound[(c * d) + k] += Math.Abs(ga * hidden[(t * d) + k]);
                }
            }
        }

        Gradient = g;
    }

    private static double[] TermMagnitudes(float[] logits, int[] targets, CrossEntropyOptions o, int n, int v, float[]? rowUpstream, float upstream)
    {
        var cw = o.ClassWeights.Span;
        double W = 0, keptW = 0;
        int kept = 0;
        for (int c = 0; c < v; c++)
        {
            W += cw.IsEmpty ? 1 : cw[c];
        }

        foreach (int y in targets)
        {
            if (y != o.IgnoreIndex)
            {
                kept++;
                keptW += cw.IsEmpty ? 1 : cw[y];
            }
        }

        var lse = CrossEntropyReference.LogSumExp(logits, n, o.SoftCap);
        var r = new double[n * v];
        double e = o.LabelSmoothing;
        for (int t = 0; t < n; t++)
        {
            int y = targets[t];
            if (y == o.IgnoreIndex)
            {
                continue;
            }

            double a = o.Reduction switch
            {
                Reduction.Mean => upstream / keptW,
                Reduction.Sum => upstream,
                _ => rowUpstream?[t] ?? 1,
            };
            double b = o.Reduction == Reduction.Mean ? upstream / kept : a;
            a = Math.Abs(a);
            b = Math.Abs(b);
            double wy = cw.IsEmpty ? 1 : cw[y];
            for (int c = 0; c < v; c++)
            {
                double x = logits[(t * v) + c];
                double z = o.SoftCap > 0 ? o.SoftCap * Math.Tanh(x / o.SoftCap) : x;
                double p = Math.Exp(z - lse[t]);
                double wc = cw.IsEmpty ? 1 : cw[c];
                r[(t * v) + c] = (a * (1 - e) * wy * (p + (c == y ? 1 : 0))) + (a * e / v * ((W * p) + Math.Abs(wc)))
                    + (b * 2 * o.ZLoss * Math.Abs(lse[t]) * p);
            }
        }

        return r;
    }

    public float[] Logits { get; }

    public double Loss { get; }

    public double[] RowLosses { get; }

    public double[] Lse { get; }

    public double[] Gradient { get; }

    public double[] DHidden { get; }

    /// <summary>sum |terms| of each dHidden entry: the scale its rounding error is relative to.</summary>
    public double[] DHiddenBound { get; }

    public double[] DWeight { get; }

    public double[] DWeightBound { get; }

    public double[] DBias { get; }

    public double[] DBiasBound { get; }

    public static void AssertClose(double expected, double actual, double relative, string what)
    {
        if (double.IsNaN(expected) || double.IsInfinity(expected))
        {
            Assert.True(expected.Equals(actual), $"{what}: expected {expected}, got {actual}");
            return;
        }

        Assert.True(Math.Abs(actual - expected) <= (relative * Math.Abs(expected)) + 1e-6,
            $"{what}: expected {expected}, got {actual} (relative error {Math.Abs(actual - expected) / Math.Abs(expected):E2})");
    }

    /// <summary>Each entry within relative * (sum of |terms| + largest such sum / 1000) of the reference.</summary>
    public static void AssertGradient(double[] expected, double[] bound, ReadOnlySpan<float> actual, double relative, string what)
    {
        double scale = bound.Length == 0 ? 0 : bound.Max();
        for (int i = 0; i < expected.Length; i++)
        {
            double tol = (relative * (bound[i] + (scale * 1e-3))) + 1e-12;
            if (!(Math.Abs(actual[i] - expected[i]) <= tol))
            {
                Assert.Fail($"{what}[{i}]: expected {expected[i]}, got {actual[i]} (tolerance {tol:E2})");
            }
        }
    }
}
