namespace Xent.Distillation;

/// <summary>
/// The per-class terms of the generalised JSD family (<see cref="DistillationOptions.Beta"/>), in the log-probabilities
/// log Q (student) and log P (teacher) of one class: the divergence's summand and its gradient in the student's
/// tempered logits s / T. The one place these formulas live in the kernel.
/// </summary>
/// <remarks>
/// With g_c = dD/dQ_c (forward KL -P/Q, reverse KL log(Q/P) + 1, JSD (1 - beta) log(Q/M)), the softmax gives
/// dD/d(s_c / T) = Q_c (g_c - sum_k Q_k g_k); the constant +1 cancels. The sum is -1 for the forward KL (so the
/// gradient is Q - P), the divergence itself for the reverse KL, and (1 - beta) sum Q log(Q/M) for the JSD: a
/// row statistic the gradient sweep needs, gathered with the loss.
/// </remarks>
internal readonly struct Divergence(double beta)
{
    private readonly double logBeta = Math.Log(beta), logRest = Math.Log(1 - beta);

    /// <summary>Whether the gradient needs the row's <see cref="Summand"/> Mean total before it starts.</summary>
    public bool NeedsMean => beta != 0;

    /// <summary>Class c's share of the divergence, and of the row statistic sum_k Q_k g_k.</summary>
    /// <param name="logQ">log Q_c, the student's tempered log-probability.</param>
    /// <param name="logP">log P_c, the teacher's.</param>
    public (double Term, double Mean) Summand(double logQ, double logP)
    {
        if (beta == 0)
        {
            return (XLogXOverY(logP, logQ), 0);
        }

        if (beta == 1)
        {
            double reverse = XLogXOverY(logQ, logP);
            return (reverse, reverse);
        }

        double logM = LogMixture(logQ, logP);
        double student = XLogXOverY(logQ, logM);
        return ((beta * XLogXOverY(logP, logM)) + ((1 - beta) * student), (1 - beta) * student);
    }

    /// <summary>dD/d(s_c / T) given the row's total <paramref name="mean"/> of <see cref="Summand"/>'s Mean.</summary>
    /// <param name="logQ">log Q_c.</param>
    /// <param name="logP">log P_c.</param>
    /// <param name="mean">sum_k Q_k g_k of the row (unused by the forward KL).</param>
    public double Gradient(double logQ, double logP, double mean)
    {
        double q = Math.Exp(logQ);
        if (beta == 0)
        {
            return q - Math.Exp(logP);
        }

        if (q == 0)
        {
            return 0; // Q log Q -> 0: no 0 x -inf
        }

        return beta == 1 ? q * (logQ - logP - mean) : q * (((1 - beta) * (logQ - LogMixture(logQ, logP))) - mean);
    }

    /// <summary>x (log x - log y) for x = e^logX, with 0 log 0 = 0.</summary>
    private static double XLogXOverY(double logX, double logY)
    {
        double x = Math.Exp(logX);
        return x == 0 ? 0 : x * (logX - logY);
    }

    /// <summary>log M = log(beta P + (1 - beta) Q), as a two-term log-sum-exp so that it never underflows to -inf first.</summary>
    private double LogMixture(double logQ, double logP)
    {
        double a = logBeta + logP, b = logRest + logQ;
        double max = Math.Max(a, b);
        return max == double.NegativeInfinity ? max : max + Math.Log(Math.Exp(a - max) + Math.Exp(b - max));
    }
}
