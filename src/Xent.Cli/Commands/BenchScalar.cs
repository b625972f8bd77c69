namespace Xent.Cli.Commands;

/// <summary>
/// The baseline of <c>xent bench</c>: the plain float32 cross-entropy anyone would write first. One thread, no
/// vectors, two passes per row (max, then sum of exp) and a third for the gradient. Mean over rows, no options.
/// </summary>
internal static class BenchScalar
{
    public static float Loss(ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, int classes)
    {
        double total = 0;
        for (int n = 0; n < targets.Length; n++)
        {
            var row = logits.Slice(n * classes, classes);
            float lse = LogSumExp(row);
            total += lse - row[targets[n]];
        }

        return (float)(total / targets.Length);
    }

    public static float LossAndGradient(ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, Span<float> gradient, int classes)
    {
        double total = 0;
        float scale = 1f / targets.Length;
        for (int n = 0; n < targets.Length; n++)
        {
            var row = logits.Slice(n * classes, classes);
            var g = gradient.Slice(n * classes, classes);
            float lse = LogSumExp(row);
            int t = targets[n];
            total += lse - row[t];
            for (int c = 0; c < row.Length; c++)
            {
                g[c] = MathF.Exp(row[c] - lse) * scale;
            }

            g[t] -= scale;
        }

        return (float)(total / targets.Length);
    }

    private static float LogSumExp(ReadOnlySpan<float> row)
    {
        float max = float.NegativeInfinity;
        for (int c = 0; c < row.Length; c++)
        {
            max = MathF.Max(max, row[c]);
        }

        float sum = 0;
        for (int c = 0; c < row.Length; c++)
        {
            sum += MathF.Exp(row[c] - max);
        }

        return max + MathF.Log(sum);
    }
}
