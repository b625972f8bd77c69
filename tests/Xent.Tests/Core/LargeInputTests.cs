using System.Runtime.InteropServices;

namespace Xent.Tests.Core;

/// <summary>
/// Logits beyond 2^31 elements through the pointer overloads, on a real 8192 x 262144 float buffer (8.6 GB).
/// Slow and memory-hungry, so outside the default run (skipped unless XENT_SLOW_TESTS=1):
/// <c>XENT_SLOW_TESTS=1 dotnet test -c Release --filter "FullyQualifiedName~Xent.Tests.Core.LargeInputTests"</c>
/// (needs ~9 GB of free memory; about a minute on 2 cores).
/// </summary>
[Trait("Category", "Slow")]
public class LargeInputTests
{
    private const int Rows = 8192;
    private const int V = 262144;

    [SlowFact]
    public unsafe void EightGigabytesOfLogits()
    {
        long length = (long)Rows * V;
        Assert.True(length > int.MaxValue);
        Assert.True(AvailableBytes() > (length * sizeof(float)) + (1L << 30), $"needs {length * sizeof(float) / 1e9:F1} GB free plus 1 GB");
        float* x = (float*)NativeMemory.Alloc((nuint)length, sizeof(float));
        try
        {
            // Cheap deterministic logits in [-8, 8): a hash of the index.
            Parallel.For(0, Rows, n =>
            {
                var row = new Span<float>(x + ((long)n * V), V);
                for (int c = 0; c < V; c++)
                {
                    uint h = (uint)((((long)n * V) + c) * 2654435761L >> 7);
                    row[c] = ((h & 0xFFFF) / 4096f) - 8f;
                }
            });
            var y = TestData.Targets(Rows, V, 1, ignoreEvery: 97);

            // Every row's loss through 64-bit offsets equals the loss of that row alone as a span: same fold,
            // so bitwise.
            var losses = new float[Rows];
            CrossEntropy.LossPerRow(x, length, y, losses);
            var alone = new float[1];
            for (int n = 0; n < Rows; n += 1)
            {
                CrossEntropy.LossPerRow(new ReadOnlySpan<float>(x + ((long)n * V), V), y.AsSpan(n, 1), alone);
                Assert.Equal(alone[0], losses[n]);
            }

            float loss = CrossEntropy.Loss(x, length, y);
            double kept = y.Count(t => t != -100);
            Close.Scalar(losses.Sum(r => (double)r) / kept, loss, relative: 1e-6);

            // Gradient in place. Rows near both ends (past 2^31 elements for the last) against the row alone.
            int[] probe = [0, 4095, Rows - 1];
            var expected = probe.Select(n =>
            {
                var g = new float[V];
                CrossEntropy.LossAndGradient(new ReadOnlySpan<float>(x + ((long)n * V), V), y.AsSpan(n, 1), g, new CrossEntropyOptions { Reduction = Reduction.Sum });
                return g;
            }).ToArray();
            Assert.Equal(loss, CrossEntropy.LossAndGradient(x, length, y, x, length));
            for (int i = 0; i < probe.Length; i++)
            {
                var row = new ReadOnlySpan<float>(x + ((long)probe[i] * V), V);
                for (int c = 0; c < V; c++)
                {
                    Close.Scalar(expected[i][c] / kept, row[c], relative: 1e-6, absolute: 1e-12, what: $"row {probe[i]} column {c}");
                }
            }
        }
        finally
        {
            NativeMemory.Free(x);
        }
    }

    private static long AvailableBytes()
    {
        foreach (string line in File.ReadLines("/proc/meminfo"))
        {
            if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
            }
        }

        return long.MaxValue; // not Linux: let the allocation decide
    }
}
