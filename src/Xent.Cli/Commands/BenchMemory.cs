using System.Numerics;

namespace Xent.Cli.Commands;

/// <summary>
/// This machine's memory-bandwidth limits, measured on the benchmark's own buffers with the same thread count:
/// a read (vector sum) and a copy (read + write). A loss cannot beat the read; a loss with gradient cannot beat the copy.
/// </summary>
internal static class BenchMemory
{
    /// <summary>Reads every float of <paramref name="source"/>; returns the sum so the work cannot be optimised away.</summary>
    public static float Read(float[] source, int threads)
    {
        var partial = new float[threads];
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, p =>
        {
            var (start, length) = Part(source.Length, threads, p);
            partial[p] = Sum(source.AsSpan(start, length));
        });
        return partial.Sum();
    }

    /// <summary>Copies <paramref name="source"/> into <paramref name="destination"/> (same length).</summary>
    public static void Copy(float[] source, float[] destination, int threads)
    {
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, p =>
        {
            var (start, length) = Part(source.Length, threads, p);
            source.AsSpan(start, length).CopyTo(destination.AsSpan(start, length));
        });
    }

    private static (int Start, int Length) Part(int length, int parts, int p)
    {
        long start = (long)length * p / parts, end = (long)length * (p + 1) / parts;
        return ((int)start, (int)(end - start));
    }

    private static float Sum(ReadOnlySpan<float> values)
    {
        var a = Vector<float>.Zero;
        var b = Vector<float>.Zero;
        var c = Vector<float>.Zero;
        var d = Vector<float>.Zero;
        int w = Vector<float>.Count, i = 0;
        for (; i <= values.Length - 4 * w; i += 4 * w)
        {
            a += new Vector<float>(values.Slice(i));
            b += new Vector<float>(values.Slice(i + w));
            c += new Vector<float>(values.Slice(i + 2 * w));
            d += new Vector<float>(values.Slice(i + 3 * w));
        }

        float sum = Vector.Sum(a + b + c + d);
        for (; i < values.Length; i++)
        {
            sum += values[i];
        }

        return sum;
    }
}
