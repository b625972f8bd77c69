namespace Xent.Baselines;

/// <summary>
/// The plain float32 cross-entropy anyone would write first, the baseline Xent is measured against: per row a max
/// pass, an exp-sum pass with <see cref="MathF.Exp"/>, and for the gradient a third pass; no vectors. Rows are split
/// into contiguous parts over the same number of threads as the call it is compared with (at most the core count, as
/// Xent caps them), so that a ratio compares code, not cores. Default options only (Mean reduction, no weights, no ignored rows).
/// </summary>
public static class ScalarCrossEntropy
{
    /// <summary>The mean loss.</summary>
    /// <param name="logits">Logits [N, V] row-major.</param>
    /// <param name="targets">Targets [N], each in [0, V).</param>
    /// <param name="threads">Threads (contiguous row ranges); the result does not depend on it.</param>
    /// <returns>The mean over the rows, summed in row order in double.</returns>
    public static float Loss(ReadOnlyMemory<float> logits, ReadOnlyMemory<int> targets, int threads) =>
        Run(logits, targets, Memory<float>.Empty, threads);

    /// <summary>The mean loss and its gradient (softmax - onehot) / N.</summary>
    /// <param name="logits">Logits [N, V].</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="gradient">Destination [N, V], not overlapping the logits.</param>
    /// <param name="threads">Threads (contiguous row ranges).</param>
    /// <returns>The mean loss.</returns>
    public static float LossAndGradient(ReadOnlyMemory<float> logits, ReadOnlyMemory<int> targets, Memory<float> gradient, int threads)
    {
        if (gradient.Length < logits.Length)
        {
            throw new ArgumentException($"gradient has {gradient.Length} elements but the logits {logits.Length}.", nameof(gradient));
        }

        return Run(logits, targets, gradient, threads);
    }

    private static float Run(ReadOnlyMemory<float> logits, ReadOnlyMemory<int> targets, Memory<float> gradient, int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        threads = Parts.AtMostTheCores(threads);
        int rows = targets.Length;
        if (rows == 0 || logits.Length % rows != 0)
        {
            throw new ArgumentException($"The logits' length {logits.Length} is not a positive multiple of N = {rows}.", nameof(logits));
        }

        int classes = logits.Length / rows;
        var losses = new double[rows];
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, p =>
        {
            var (start, end) = Parts.Range(rows, threads, p);
            var x = logits.Span;
            var y = targets.Span;
            var g = gradient.Span;
            float scale = 1f / rows;
            for (int n = start; n < end; n++)
            {
                var row = x.Slice(n * classes, classes);
                float lse = LogSumExp(row);
                losses[n] = lse - row[y[n]];
                if (!g.IsEmpty)
                {
                    var gRow = g.Slice(n * classes, classes);
                    for (int c = 0; c < classes; c++)
                    {
                        gRow[c] = MathF.Exp(row[c] - lse) * scale;
                    }

                    gRow[y[n]] -= scale;
                }
            }
        });

        double total = 0;
        foreach (double loss in losses)
        {
            total += loss;
        }

        return (float)(total / rows);
    }

    private static float LogSumExp(ReadOnlySpan<float> row)
    {
        float max = float.NegativeInfinity;
        foreach (float v in row)
        {
            max = MathF.Max(max, v);
        }

        float sum = 0;
        foreach (float v in row)
        {
            sum += MathF.Exp(v - max);
        }

        return max + MathF.Log(sum);
    }
}
