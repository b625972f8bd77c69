namespace Xent.Reference;

/// <summary>
/// Every intermediate of one row's loss and gradient, in float64, step by step as <c>docs/spec/cross-entropy.md</c>
/// writes them: soft cap, max, shifted logits, exponentials, their sum, log-sum-exp, log-probabilities,
/// probabilities, the gathered target, the three loss terms and the gradient. <see cref="CrossEntropyReference"/>
/// computes its losses and gradients from these traces, so what a trace shows is what the reference computes.
/// Also holds the naive textbook formula (no max subtraction), to show where it overflows.
/// </summary>
/// <remarks>Shapes: V classes; every array here is [V].</remarks>
public sealed class CrossEntropyRowTrace
{
    private readonly double[] weights;

    private CrossEntropyRowTrace(ReadOnlySpan<float> logits, int target, CrossEntropyOptions options, double[] weights)
    {
        int v = logits.Length;
        this.weights = weights;
        Options = options;
        Target = target;
        Ignored = target == options.IgnoreIndex;
        Logits = new double[v];
        Capped = new double[v];
        Shifted = new double[v];
        Exponentials = new double[v];
        LogProbabilities = new double[v];
        Probabilities = new double[v];
        NaiveExponentials = new double[v];
        Gradient = new double[v];
        double s = options.SoftCap;
        Max = double.NegativeInfinity;
        for (int c = 0; c < v; c++)
        {
            Logits[c] = logits[c];
            Capped[c] = s > 0 ? s * Math.Tanh(Logits[c] / s) : Logits[c];
            Max = Math.Max(Max, Capped[c]); // Math.Max propagates NaN, as the spec asks.
        }

        int top = Array.IndexOf(Capped, Max);
        double rest = 0;
        for (int c = 0; c < v; c++)
        {
            Shifted[c] = Capped[c] - Max;
            Exponentials[c] = Math.Exp(Shifted[c]);
            SumExp += Exponentials[c];
            rest += c == top ? 0 : Exponentials[c];
            NaiveExponentials[c] = Math.Exp(Capped[c]);
            NaiveSumExp += NaiveExponentials[c];
        }

        // With a finite max, log s = log1p of the sum less the (first) max's term, exactly 1: a confident row's loss
        // -log p[y] = log s is the small sum of the other terms, which 1 + (that sum) rounds away in double (logits
        // [0, -40, -40]: 8.5e-18, not 0). An infinite or NaN max keeps log s, and its NaN, as the spec asks.
        // log p = (z - m) - log s, never z - lse: at |m| of about 1e12 and more, m + log s in double loses log s (a row
        // of -1e30 everywhere would have p = 1 in every column, not 1 / V, and a loss of 0, not ln V).
        double logSum = double.IsFinite(Max) ? Float64Math.LogP1(rest) : Math.Log(SumExp);
        LogSumExp = Max + logSum;
        for (int c = 0; c < v; c++)
        {
            LogProbabilities[c] = Shifted[c] - logSum;
            Probabilities[c] = Math.Exp(LogProbabilities[c]);
        }

        if (!Ignored)
        {
            Nll = (1 - Smoothing) * weights[target] * -LogProbabilities[target];
            SmoothingTerm = SmoothingOf(LogProbabilities, weights, Smoothing);
            ZTerm = ZTermOf(LogSumExp, options.ZLoss);
            NaiveLoss = -Math.Log(NaiveExponentials[target] / NaiveSumExp);
            AddGradient(1, 1, Gradient);
        }
    }

    /// <summary>The options the row was computed with (Reduction is not used).</summary>
    public CrossEntropyOptions Options { get; }

    /// <summary>The target class y, or the ignore index.</summary>
    public int Target { get; }

    /// <summary>Whether the target is the ignore index: the row's loss and gradient are 0.</summary>
    public bool Ignored { get; }

    /// <summary>The logits x [V], widened to float64.</summary>
    public double[] Logits { get; }

    /// <summary>z [V]: s * tanh(x / s) with a soft cap s, else x.</summary>
    public double[] Capped { get; }

    /// <summary>m = max_c z[c].</summary>
    public double Max { get; }

    /// <summary>z - m [V]: every entry &lt;= 0, so its exponential cannot overflow.</summary>
    public double[] Shifted { get; }

    /// <summary>exp(z - m) [V], each in [0, 1].</summary>
    public double[] Exponentials { get; }

    /// <summary>sum_c exp(z[c] - m), in [1, V].</summary>
    public double SumExp { get; }

    /// <summary>lse = m + log(sum_c exp(z[c] - m)) = log sum_c exp(z[c]).</summary>
    public double LogSumExp { get; }

    /// <summary>log p = z - lse [V].</summary>
    public double[] LogProbabilities { get; }

    /// <summary>p = exp(z - lse) [V], the softmax.</summary>
    public double[] Probabilities { get; }

    /// <summary>Label smoothing e.</summary>
    public double Smoothing => Options.LabelSmoothing;

    /// <summary>The class weight w[y] of the target (1 without weights; 0 for an ignored row).</summary>
    public double TargetWeight => Ignored ? 0 : weights[Target];

    /// <summary>(1 - e) * w[y] * (lse - z[y]): the weighted negative log-likelihood of the target.</summary>
    public double Nll { get; }

    /// <summary>(e / V) * sum_c w[c] * (lse - z[c]); 0 without smoothing (absent, not 0 x infinity).</summary>
    public double SmoothingTerm { get; }

    /// <summary>l * lse^2, the z-loss term; 0 when off.</summary>
    public double ZTerm { get; }

    /// <summary>r = Nll + SmoothingTerm + ZTerm, the row loss (what Reduction.None gives; 0 when ignored).</summary>
    public double Loss => Nll + SmoothingTerm + ZTerm;

    /// <summary>The Mean over this one row: (Nll + SmoothingTerm) / w[y] + ZTerm; NaN when ignored (no kept row).</summary>
    public double MeanLoss => Ignored ? double.NaN : ((Nll + SmoothingTerm) / weights[Target]) + ZTerm;

    /// <summary>dr/dx [V], the gradient of the row loss: p - onehot(y) without options; 0 when ignored.</summary>
    public double[] Gradient { get; }

    /// <summary>The naive textbook exp(z) [V], without the max subtraction: overflows to +inf once z &gt; 709.</summary>
    public double[] NaiveExponentials { get; }

    /// <summary>The naive sum_c exp(z[c]) (+inf once any exponential overflowed).</summary>
    public double NaiveSumExp { get; }

    /// <summary>The naive -log(exp(z[y]) / sum_c exp(z[c])): NaN (inf / inf) where the stable loss is finite. 0 when ignored.</summary>
    public double NaiveLoss { get; }

    /// <summary>
    /// The trace of one row.
    /// </summary>
    /// <param name="logits">The row's logits x [V].</param>
    /// <param name="target">Its target y in [0, V), or the ignore index.</param>
    /// <param name="options">Options (smoothing, weights [V], z-loss, soft cap, ignore index); Reduction is not used.</param>
    /// <exception cref="ArgumentException">V = 0, options that do not fit V, or a target outside [0, V) that is not the ignore index.</exception>
    public static CrossEntropyRowTrace Of(ReadOnlySpan<float> logits, int target, CrossEntropyOptions? options = null)
    {
        var o = options ?? CrossEntropyOptions.Default;
        int v = CrossEntropyChecks.VocabularySize(logits.Length, 1);
        CrossEntropyChecks.Options(o, v);
        CrossEntropyChecks.Targets([target], v, o.IgnoreIndex);
        return Of(logits, target, o, Weights(o, v));
    }

    /// <summary>The trace of a row already checked, with the weights w [V] as float64.</summary>
    internal static CrossEntropyRowTrace Of(ReadOnlySpan<float> logits, int target, CrossEntropyOptions options, double[] weights) =>
        new(logits, target, options, weights);

    /// <summary>Class weights w [V] as float64 (all 1 when none are given).</summary>
    internal static double[] Weights(CrossEntropyOptions o, int v)
    {
        var w = new double[v];
        var span = o.ClassWeights.Span;
        for (int c = 0; c < v; c++)
        {
            w[c] = span.IsEmpty ? 1 : span[c];
        }

        return w;
    }

    /// <summary>
    /// Adds this row's share of a reduced gradient to <paramref name="into"/> [V]: a scales the log-likelihood and
    /// smoothing terms, b the z-loss term (both 1 for the row loss itself).
    /// </summary>
    internal void AddGradient(double a, double b, Span<double> into)
    {
        if (Ignored)
        {
            return;
        }

        int v = Logits.Length;
        int y = Target;
        double e = Smoothing;
        double wSum = 0;
        foreach (double x in weights)
        {
            wSum += x;
        }

        for (int c = 0; c < v; c++)
        {
            double p = Probabilities[c];
            // p - 1 at the target is expm1(log p): a confident row keeps the small distance of p from 1.
            double g = a * (1 - e) * weights[y] * (c == y ? Float64Math.ExpM1(LogProbabilities[c]) : p);
            if (e > 0)
            {
                g += a * (e / v) * ((wSum * p) - weights[c]);
            }

            if (Options.ZLoss > 0)
            {
                g += b * 2 * Options.ZLoss * LogSumExp * p;
            }

            into[c] += g * CapDerivative(Capped[c], Options.SoftCap);
        }
    }

    /// <summary>The z-loss term l * lse^2 (0 when l = 0).</summary>
    internal static double ZTermOf(double lse, float zLoss) => zLoss > 0 ? zLoss * lse * lse : 0;

    /// <summary>dz/dx of the soft cap at z = s tanh(x / s): 1 - (z / s)^2 (1 without a cap).</summary>
    internal static double CapDerivative(double z, float softCap)
    {
        if (softCap == 0)
        {
            return 1;
        }

        double u = z / softCap;
        return 1 - (u * u);
    }

    // (e / V) sum_c w[c] (lse - z[c]), from log p = z - lse. With e = 0 the term is absent, not 0 x (something infinite).
    private static double SmoothingOf(double[] logProbabilities, double[] w, double e)
    {
        if (e == 0)
        {
            return 0;
        }

        double sum = 0;
        for (int c = 0; c < logProbabilities.Length; c++)
        {
            sum -= w[c] * logProbabilities[c];
        }

        return e / logProbabilities.Length * sum;
    }
}
