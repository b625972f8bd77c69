namespace Xent.Reference;

/// <summary>
/// The plain scalar float64 reference of the distillation loss (<see cref="LinearDistillation"/>), written from the
/// formulas: logits in double, full softmaxes, no blocking, no threads. Slow; the readable definition.
/// </summary>
/// <remarks>
/// Row n, student logits s [V], teacher logits t [V], temperature T: Q = softmax(s / T) (student), P = softmax(t / T)
/// (teacher). The divergence with mixing weight beta (as Liger-Kernel's generalised JSD):
/// beta = 0: KL(P || Q) = sum P (log P - log Q) (forward KL);
/// beta = 1: KL(Q || P) = sum Q (log Q - log P) (reverse KL);
/// otherwise beta KL(P || M) + (1 - beta) KL(Q || M) with M = beta P + (1 - beta) Q.
/// The row's loss is SoftLossWeight x divergence + HardLossWeight x (logsumexp(s) - s[y]) (cross-entropy at
/// temperature 1), 0 for a row whose target is the ignore index; Mean divides the sum by the kept rows.
/// </remarks>
public static class DistillationReference
{
    /// <summary>Per-row losses r [N] from the logits (0 for ignored rows).</summary>
    /// <param name="studentLogits">Student logits s [N, V].</param>
    /// <param name="teacherLogits">Teacher logits t [N, V].</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="options">Options; Reduction is not used.</param>
    public static double[] RowLosses(ReadOnlySpan<double> studentLogits, ReadOnlySpan<double> teacherLogits, ReadOnlySpan<int> targets, DistillationOptions? options = null)
    {
        var o = options ?? DistillationOptions.Default;
        int rows = targets.Length, v = studentLogits.Length / Math.Max(rows, 1);
        var r = new double[rows];
        for (int n = 0; n < rows; n++)
        {
            if (targets[n] != o.IgnoreIndex)
            {
                r[n] = RowLoss(studentLogits.Slice(n * v, v), teacherLogits.Slice(n * v, v), targets[n], o, null);
            }
        }

        return r;
    }

    /// <summary>The reduced loss (Mean over kept rows, or Sum), times nothing: the upstream gradient does not scale it.</summary>
    /// <param name="studentLogits">Student logits s [N, V].</param>
    /// <param name="teacherLogits">Teacher logits t [N, V].</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="options">Options; Reduction Mean or Sum.</param>
    public static double Loss(ReadOnlySpan<double> studentLogits, ReadOnlySpan<double> teacherLogits, ReadOnlySpan<int> targets, DistillationOptions? options = null)
    {
        var o = options ?? DistillationOptions.Default;
        var r = RowLosses(studentLogits, teacherLogits, targets, o);
        int kept = Kept(targets, o);
        return o.Reduction == Reduction.Sum ? r.Sum() : r.Sum() / kept;
    }

    /// <summary>d(loss)/d(student logits) [N, V] of the reduced loss, times options.Upstream.</summary>
    /// <param name="studentLogits">Student logits s [N, V].</param>
    /// <param name="teacherLogits">Teacher logits t [N, V].</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="options">Options; Reduction Mean or Sum.</param>
    public static double[] Gradient(ReadOnlySpan<double> studentLogits, ReadOnlySpan<double> teacherLogits, ReadOnlySpan<int> targets, DistillationOptions? options = null)
    {
        var o = options ?? DistillationOptions.Default;
        int rows = targets.Length, v = studentLogits.Length / Math.Max(rows, 1);
        double scale = o.Upstream / (o.Reduction == Reduction.Sum ? 1.0 : Kept(targets, o));
        var g = new double[studentLogits.Length];
        for (int n = 0; n < rows; n++)
        {
            if (targets[n] != o.IgnoreIndex)
            {
                var row = new double[v];
                RowLoss(studentLogits.Slice(n * v, v), teacherLogits.Slice(n * v, v), targets[n], o, row);
                for (int c = 0; c < v; c++)
                {
                    g[(n * v) + c] = scale * row[c];
                }
            }
        }

        return g;
    }

    /// <summary>logits [N, V] = x [N, K] W^T (W [V, K]) in double.</summary>
    /// <param name="x">Hidden states [N, K].</param>
    /// <param name="weight">Weight [V, K].</param>
    /// <param name="rows">N.</param>
    public static double[] Logits(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, int rows)
    {
        int k = rows == 0 ? 0 : x.Length / rows, v = k == 0 ? 0 : weight.Length / k;
        var z = new double[rows * v];
        for (int n = 0; n < rows; n++)
        {
            for (int c = 0; c < v; c++)
            {
                double s = 0;
                for (int i = 0; i < k; i++)
                {
                    s += (double)x[(n * k) + i] * weight[(c * k) + i];
                }

                z[(n * v) + c] = s;
            }
        }

        return z;
    }

    /// <summary>dh [N, D] = G W and dW [V, D] = G^T h for the logits gradient G [N, V].</summary>
    /// <param name="gradient">G [N, V].</param>
    /// <param name="hidden">h [N, D].</param>
    /// <param name="weight">W [V, D].</param>
    /// <param name="rows">N.</param>
    public static (double[] Hidden, double[] Weight) Backward(ReadOnlySpan<double> gradient, ReadOnlySpan<float> hidden, ReadOnlySpan<float> weight, int rows)
    {
        int d = rows == 0 ? 0 : hidden.Length / rows, v = d == 0 ? 0 : weight.Length / d;
        var dh = new double[rows * d];
        var dw = new double[v * d];
        for (int n = 0; n < rows; n++)
        {
            for (int c = 0; c < v; c++)
            {
                double g = gradient[(n * v) + c];
                for (int i = 0; i < d; i++)
                {
                    dh[(n * d) + i] += g * weight[(c * d) + i];
                    dw[(c * d) + i] += g * hidden[(n * d) + i];
                }
            }
        }

        return (dh, dw);
    }

    private static int Kept(ReadOnlySpan<int> targets, DistillationOptions o)
    {
        int kept = 0;
        foreach (int y in targets)
        {
            kept += y != o.IgnoreIndex ? 1 : 0;
        }

        return kept;
    }

    /// <summary>One row's loss; with <paramref name="gradient"/>, also d(row loss)/d(s) into it.</summary>
    private static double RowLoss(ReadOnlySpan<double> s, ReadOnlySpan<double> t, int y, DistillationOptions o, double[]? gradient)
    {
        int v = s.Length;
        double temperature = o.Temperature, beta = o.Beta;
        var logQ = LogSoftmax(s, temperature);
        var logP = LogSoftmax(t, temperature);
        var q = logQ.Select(Math.Exp).ToArray();
        var p = logP.Select(Math.Exp).ToArray();

        // Q_c dD/dQ_c, the divergence's derivative in the student's probabilities (up to a constant, which the
        // softmax's Jacobian cancels) times Q_c: forward KL -P (Q (-P/Q), also where Q has underflowed to 0 and P
        // has not: its gradient Q - P is then -P), reverse KL Q log(Q/P), JSD (1 - beta) Q log(Q/M) (0 where Q = 0).
        double divergence = 0;
        var qdq = new double[v];
        for (int c = 0; c < v; c++)
        {
            if (beta == 0)
            {
                divergence += KlTerm(p[c], q[c], logP[c], logQ[c]);
                qdq[c] = -p[c];
            }
            else if (beta == 1)
            {
                divergence += KlTerm(q[c], p[c], logQ[c], logP[c]);
                qdq[c] = q[c] == 0 ? 0 : q[c] * (logQ[c] - logP[c]);
            }
            else
            {
                double logM = LogMixture(beta, logP[c], logQ[c]);
                double m = (beta * p[c]) + ((1 - beta) * q[c]); // 0 where both are, and log M is NaN
                divergence += (beta * KlTerm(p[c], m, logP[c], logM)) + ((1 - beta) * KlTerm(q[c], m, logQ[c], logM));
                qdq[c] = q[c] == 0 ? 0 : q[c] * (1 - beta) * (logQ[c] - logM);
            }
        }

        // lse - s[y] as (m - s[y]) + log sum and p as exp((s - m) - log sum): at |m| of about 1e12 and more, m + log sum
        // in double loses log sum (a row of -1e30 everywhere would have a cross-entropy of 0, not ln V).
        // A term of weight 0 is absent, not 0 x inf (an infinite divergence, a target logit of -inf).
        var (max, logSum) = LogSumExpParts(s, 1);
        double loss = (o.SoftLossWeight == 0 ? 0 : o.SoftLossWeight * divergence) + (o.HardLossWeight == 0 ? 0 : o.HardLossWeight * ((max - s[y]) + logSum));
        if (gradient != null)
        {
            // Through the softmax of s / T: dD/ds_c = (Q_c dq_c - Q_c sum_k Q_k dq_k) / T.
            double mean = 0;
            for (int c = 0; c < v; c++)
            {
                mean += qdq[c];
            }

            // Except the forward KL's gradient at a class where Q and P both lead: there it is Q_a - P_a, the difference
            // of two numbers near 1, which LeadingGradient takes from the tails instead.
            int lead = beta == 0 ? SharedLead(q, p) : -1;
            for (int c = 0; c < v; c++)
            {
                double soft = c == lead ? LeadingGradient(s, t, lead, temperature) : (qdq[c] - (q[c] == 0 ? 0 : q[c] * mean)) / temperature;
                // At the target, r_y - 1 as expm1(log r_y): where the target leads, r_y is near 1 and exp(log r_y) - 1
                // keeps only an ulp of 1 of what is minus its tail (1.6e-13 at a lead of 40: 2e-4 off).
                double logR = (s[c] - max) - logSum;
                double hard = c != y ? Math.Exp(logR) : logR > -1 ? Float64Math.ExpM1(logR) : Math.Exp(logR) - 1;
                gradient[c] = (o.SoftLossWeight == 0 ? 0 : o.SoftLossWeight * soft) + (o.HardLossWeight == 0 ? 0 : o.HardLossWeight * hard);
            }
        }

        return loss;
    }

    /// <summary>The class where Q and P are both above 1/2 (at most one), or -1.</summary>
    private static int SharedLead(double[] q, double[] p)
    {
        for (int c = 0; c < q.Length; c++)
        {
            if (q[c] > 0.5 && p[c] > 0.5)
            {
                return c;
            }
        }

        return -1;
    }

    /// <summary>
    /// The forward KL's gradient at a class a where Q and P both lead, (Q_a - P_a) / T, from the tails R_s = sum_{c != a}
    /// exp((s_c - s_a) / T) and R_t (the same of t): Q_a = 1 / (1 + R_s), P_a = 1 / (1 + R_t), so Q_a - P_a = (R_t -
    /// R_s) / ((1 + R_s)(1 + R_t)). From the probabilities it is q_a sum P - p_a, two numbers near 1 each good to an ulp
    /// of 1 (sum P to a few), while the tails (5e-7 at a lead of 25, V 32000) can agree to 1e-4 of themselves: 9e-5 to
    /// 1e-4 off there, 3e-2 at a lead of 30. R_t - R_s summed as the terms' differences keeps what the tails differ by.
    /// </summary>
    private static double LeadingGradient(ReadOnlySpan<double> s, ReadOnlySpan<double> t, int a, double temperature)
    {
        double rs = 0, rt = 0, difference = 0;
        for (int c = 0; c < s.Length; c++)
        {
            if (c != a)
            {
                double es = Math.Exp((s[c] - s[a]) / temperature), et = Math.Exp((t[c] - t[a]) / temperature);
                rs += es;
                rt += et;
                difference += et - es;
            }
        }

        return difference / ((1 + rs) * (1 + rt)) / temperature;
    }

    /// <summary>log(beta P + (1 - beta) Q) from the logs, so that it is finite wherever P or Q has not underflowed.</summary>
    private static double LogMixture(double beta, double logP, double logQ)
    {
        double a = Math.Log(beta) + logP, b = Math.Log(1 - beta) + logQ, max = Math.Max(a, b);
        return max + Math.Log(Math.Exp(a - max) + Math.Exp(b - max));
    }

    /// <summary>
    /// x log(x / y) - x + y (y where x = 0): the added -x + y sum to 0 over a row (the mixture's M too), so the row's
    /// divergence is the same, but as a sum of terms never below 0. The plain sum of x log(x / y) has terms of both
    /// signs, and where P and Q are near one-hot (or alike) they cancel to a divergence of 1e-13 and less with an
    /// error of 1e-16 of the largest, which can be negative. With u = log x - log y it is x phi(u), phi(u) = u - 1 +
    /// exp(-u): by its series u^2 (1/2 - u/6 + u^2/24) for |u| under 1e-3, u + expm1(-u) under 1, else x (u - 1) + y.
    /// </summary>
    private static double KlTerm(double x, double y, double logX, double logY)
    {
        if (x == 0)
        {
            return y;
        }

        double u = logX - logY;
        return Math.Abs(u) < 1e-3 ? x * u * u * (0.5 - (u / 6) + (u * u / 24))
            : Math.Abs(u) < 1 ? x * (u + Float64Math.ExpM1(-u))
            : (x * (u - 1)) + y;
    }

    /// <summary>log softmax(z / T) as (z / T - m) - log sum, never z / T - lse (see <see cref="LogSumExpParts"/>).</summary>
    private static double[] LogSoftmax(ReadOnlySpan<double> z, double temperature)
    {
        var (max, logSum) = LogSumExpParts(z, temperature);
        var r = new double[z.Length];
        for (int c = 0; c < z.Length; c++)
        {
            r[c] = ((z[c] / temperature) - max) - logSum;
        }

        return r;
    }

    /// <summary>
    /// lse(z / T) in its parts m = max z / T and log sum exp(z / T - m): at |m| of about 1e12 and more, m + log sum in
    /// double loses log sum, which differences with lse must keep. With a finite max, log sum is log1p of the sum less
    /// the (first) max's term, exactly 1: beside the 1 a double sum drops every term under 1.1e-16, all of them where
    /// one logit / T leads the rest by 37 (T 0.5 and a lead of 19), and with them the loss of a confident row.
    /// </summary>
    private static (double Max, double LogSum) LogSumExpParts(ReadOnlySpan<double> z, double temperature)
    {
        double max = double.NegativeInfinity;
        foreach (double x in z)
        {
            max = Math.Max(max, x / temperature);
        }

        double sum = 0, rest = 0;
        bool top = false;
        foreach (double x in z)
        {
            double e = Math.Exp((x / temperature) - max);
            sum += e;
            if (!top && x / temperature == max)
            {
                top = true;
            }
            else
            {
                rest += e;
            }
        }

        return (max, double.IsFinite(max) ? Float64Math.LogP1(rest) : Math.Log(sum));
    }
}
