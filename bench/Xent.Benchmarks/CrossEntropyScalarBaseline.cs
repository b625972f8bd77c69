namespace Xent.Benchmarks;

/// <summary>
/// The plain baseline the kernel is measured against: per row a max pass, an exp-sum pass, and for the gradient a
/// third pass, scalar float with MathF.Exp, rows spread over the cores. Default options only (mean, no weights).
/// </summary>
internal static class CrossEntropyScalarBaseline
{
    public static float Loss(float[] logits, int[] targets)
    {
        int rows = targets.Length, classes = logits.Length / rows;
        var losses = new double[rows];
        Parallel.For(0, rows, n => losses[n] = RowLoss(logits.AsSpan(n * classes, classes), targets[n], out _));
        return (float)(losses.Sum() / rows);
    }

    public static float LossAndGradient(float[] logits, int[] targets, float[] gradient)
    {
        int rows = targets.Length, classes = logits.Length / rows;
        var losses = new double[rows];
        float scale = 1f / rows;
        Parallel.For(0, rows, n =>
        {
            var x = logits.AsSpan(n * classes, classes);
            var g = gradient.AsSpan(n * classes, classes);
            losses[n] = RowLoss(x, targets[n], out float lse);
            for (int c = 0; c < classes; c++)
            {
                g[c] = scale * MathF.Exp(x[c] - lse);
            }

            g[targets[n]] -= scale;
        });
        return (float)(losses.Sum() / rows);
    }

    private static double RowLoss(ReadOnlySpan<float> x, int target, out float lse)
    {
        float max = float.NegativeInfinity;
        foreach (float v in x)
        {
            max = MathF.Max(max, v);
        }

        float sum = 0;
        foreach (float v in x)
        {
            sum += MathF.Exp(v - max);
        }

        lse = max + MathF.Log(sum);
        return lse - x[target];
    }
}
