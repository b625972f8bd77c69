namespace Xent.Tests.Distillation;

/// <summary>
/// A fused head whose logits are given rows exactly, for the distillation tests that need chosen logits: hidden rows
/// of one 1 and W with those rows as its columns.
/// </summary>
internal static class OneHotHead
{
    /// <summary>
    /// Hidden rows of one 1 (dimension r of D = n) and W [V, n] with column r row r's logits, for n rows of V logits
    /// <paramref name="s"/>: the tiles hold the logits exactly, and dW[c, r] = G[r, c].
    /// </summary>
    public static (float[] Hidden, float[] Weight) Of(float[] s, int n)
    {
        int v = s.Length / n;
        var hidden = new float[n * n];
        var weight = new float[v * n];
        for (int r = 0; r < n; r++)
        {
            hidden[(r * n) + r] = 1f;
            for (int c = 0; c < v; c++)
            {
                weight[(c * n) + r] = s[(r * v) + c];
            }
        }

        return (hidden, weight);
    }

    /// <summary>The logits widened to double, as the reference takes them.</summary>
    public static double[] Wide(float[] x) => [.. x.Select(v => (double)v)];
}
