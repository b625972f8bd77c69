using System.Runtime.InteropServices;

namespace Xent.Tests.Fused;

/// <summary>
/// A weight W [V, D] of more than 2^31 floats (8.6 GB), through the pointer overload: every class offset c x D
/// past 2^31 must be 64-bit. Opt-in (XENT_SLOW_TESTS=1): it needs 8.6 GB of memory.
/// </summary>
public unsafe class LinearCrossEntropyHugeWeightTests
{
    [SlowFact]
    [Trait("Category", "Slow")]
    public void WeightBeyond2Pow31Elements_MatchesTheClosedForm()
    {
        // V = 262144 (a real vocabulary), D = 8193: W has 2^31 + 2^18 floats. Only the last two columns meet a
        // non-zero h: W[c, D-2] = c / V and W[c, D-1] = 1, so z[n, c] = h[n, D-2] c / V + h[n, D-1], a geometric
        // series in c plus a constant; every other entry of W is finite filler that h's zeros cancel exactly.
        const int v = 1 << 18, d = 8193, n = 16;
        long length = (long)v * d;
        Assert.True(length > int.MaxValue);
        float* w = (float*)NativeMemory.Alloc((nuint)length, sizeof(float));
        try
        {
            Parallel.For(0, v, c =>
            {
                var row = new Span<float>(w + ((long)c * d), d);
                for (int k = 0; k < d - 2; k++)
                {
                    row[k] = ((c + k) % 7) - 3;
                }

                row[d - 2] = (float)((double)c / v);
                row[d - 1] = 1;
            });

            var h = new float[n * d];
            var y = new int[n];
            var rng = new Random(5);
            for (int i = 0; i < n; i++)
            {
                h[(i * d) + d - 2] = 1 + (4 * rng.NextSingle());
                h[(i * d) + d - 1] = rng.NextSingle() - 0.5f;
                y[i] = i switch { 0 => v - 1, 1 => 12345, _ => rng.Next(v) };
            }

            var rows = new float[n];
            var lse = new float[n];
            var o = new CrossEntropyOptions { Reduction = Reduction.Sum };
            LinearCrossEntropy.LossPerRow(h, w, v, d, [], y, rows, lse, o);
            float sum = LinearCrossEntropy.Loss(h, w, v, d, [], y, o);

            double expectedSum = 0;
            for (int i = 0; i < n; i++)
            {
                double a = h[(i * d) + d - 2], b = h[(i * d) + d - 1];
                double r = Math.Exp(a / v);
                double expectedLse = Math.Log((Math.Pow(r, v) - 1) / (r - 1)) + b;
                double expected = expectedLse - ((a * w[((long)y[i] * d) + d - 2]) + b);
                expectedSum += expected;
                Assert.True(Math.Abs(lse[i] - expectedLse) <= 1e-5 * Math.Abs(expectedLse), $"row {i}: lse {lse[i]} vs {expectedLse}");
                Assert.True(Math.Abs(rows[i] - expected) <= 2e-5 * Math.Abs(expectedLse), $"row {i}: {rows[i]} vs {expected}");
            }

            Assert.Equal(expectedSum, sum, Math.Abs(expectedSum) * 1e-5);
        }
        finally
        {
            NativeMemory.Free(w);
        }
    }
}
