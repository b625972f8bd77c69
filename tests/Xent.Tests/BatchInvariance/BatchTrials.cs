namespace Xent.Tests.BatchInvariance;

/// <summary>
/// The trials every batch-invariance test runs: a probe row placed at a random position of a batch of random size
/// (1 .. 8192, log-uniform, both ends always included), at a thread count of 1, 2 or 7, under every vector width.
/// The probe's numbers must equal, bit for bit, those of the probe alone in a batch of one on one thread at the same
/// width (the promise is per vector width: different widths do different arithmetic).
/// </summary>
internal static class BatchTrials
{
    public const int MaxBatch = 8192;

    private static readonly int[] Threads = [1, 2, 7];

    /// <summary>Batch sizes, positions and thread counts for one width, from a fixed seed.</summary>
    /// <param name="seed">Seed of the draw.</param>
    /// <param name="count">Trials besides the two fixed ones (a batch of 1 on 7 threads, a full batch with the probe last).</param>
    /// <param name="maxBatch">The largest batch drawn.</param>
    public static IEnumerable<(int Batch, int Position, int Threads)> Draw(int seed, int count, int maxBatch = MaxBatch)
    {
        var random = new Random(seed);
        yield return (1, 0, 7);
        yield return (maxBatch, maxBatch - 1, 2);
        for (int i = 0; i < count; i++)
        {
            int batch = Math.Clamp((int)Math.Exp(random.NextDouble() * Math.Log(maxBatch + 1)), 1, maxBatch);
            yield return (batch, random.Next(batch), Threads[random.Next(Threads.Length)]);
        }
    }

    /// <summary>A batch of random rows [batch, width] with <paramref name="probe"/> copied in at row <paramref name="position"/>.</summary>
    /// <param name="probe">The probe row's values.</param>
    /// <param name="batch">Rows.</param>
    /// <param name="position">The probe's row.</param>
    /// <param name="seed">Seed of the other rows.</param>
    /// <param name="next">Draws one value of another row.</param>
    public static T[] Embed<T>(ReadOnlySpan<T> probe, int batch, int position, int seed, Func<Random, T> next)
    {
        var random = new Random(seed);
        var x = new T[batch * probe.Length];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = next(random);
        }

        probe.CopyTo(x.AsSpan(position * probe.Length));
        return x;
    }

    /// <summary>Targets [batch]: random classes (some ignored), the probe's at its position.</summary>
    public static int[] Targets(int probeTarget, int batch, int position, int classes, int seed)
    {
        var random = new Random(seed + 1);
        var y = new int[batch];
        for (int n = 0; n < batch; n++)
        {
            y[n] = random.Next(8) == 0 ? -100 : random.Next(classes);
        }

        y[position] = probeTarget;
        return y;
    }

    public static float Uniform(Random random) => (8 * random.NextSingle()) - 4;

    /// <summary>Asserts two float rows are the same bits, naming the trial.</summary>
    public static void SameBits(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToUInt32Bits(expected[i]) != BitConverter.SingleToUInt32Bits(actual[i]))
            {
                Assert.Fail($"{what}: element {i} is {actual[i]:R} alone {expected[i]:R}");
            }
        }
    }
}
