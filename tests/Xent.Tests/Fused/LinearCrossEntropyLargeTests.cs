namespace Xent.Tests.Fused;

/// <summary>
/// N x V beyond 2^31 (no buffer of that size ever exists, but every offset must be 64-bit).
/// Slow (about a minute on 2 cores): dotnet test -c Release --filter "Category=Slow&amp;FullyQualifiedName~Linear".
/// </summary>
public class LinearCrossEntropyLargeTests
{
    [Fact]
    [Trait("Category", "Slow")]
    public void NTimesVBeyond2Pow31_EqualsTheSameCallInChunks_AndTheClosedForm()
    {
        // D = 1, W[c] = c / V: z[n, c] = h[n] c / V, whose log-sum-exp is a geometric series.
        int n = 65536 + 256, v = 32771, d = 1;
        Assert.True((long)n * v > int.MaxValue);
        var rng = new Random(3);
        var h = Enumerable.Range(0, n).Select(_ => 1 + (4 * (float)rng.NextDouble())).ToArray();
        var w = Enumerable.Range(0, v).Select(c => (float)c / v).ToArray();
        var y = Enumerable.Range(0, n).Select(i => (int)((i * 7919L) % v)).ToArray();
        // Per-row upstream 1: the gradients of the Sum, with the row losses from the same pass.
        var o = new LinearCrossEntropyOptions();
        var ones = Enumerable.Repeat(1f, n).ToArray();

        var rows = new float[n];
        var dh = new float[n * d];
        var dw = new float[v * d];
        LinearCrossEntropy.Gradients(h, w, [], y, ones, new(dh, dw), rows, [], o);

        // The same in chunks of whole 128-token blocks, accumulating: bitwise the same rows, dh and dW.
        var rows2 = new float[n];
        var dh2 = new float[n * d];
        var dw2 = new float[v * d];
        var acc = o with { Accumulate = true };
        const int chunk = 128 * 128;
        for (int t0 = 0; t0 < n; t0 += chunk)
        {
            int m = Math.Min(chunk, n - t0);
            LinearCrossEntropy.Gradients(h.AsSpan(t0, m), w, [], y.AsSpan(t0, m), ones.AsSpan(t0, m), new(dh2.AsSpan(t0, m), dw2), rows2.AsSpan(t0, m), [], acc);
        }

        Assert.Equal(rows2, rows);
        Assert.Equal(dh2, dh);
        Assert.Equal(dw2, dw);

        for (int i = 0; i < n; i += 997)
        {
            double r = Math.Exp(h[i] / (double)v);
            double lse = Math.Log((Math.Pow(r, v) - 1) / (r - 1));
            double expected = lse - (h[i] * (double)w[y[i]]);
            Assert.True(Math.Abs(rows[i] - expected) <= 1e-5 * Math.Abs(expected), $"row {i}: {rows[i]} vs {expected}");
        }
    }
}
