using System.Numerics.Tensors;

namespace Xent.Benchmarks;

/// <summary>
/// What memory allows for the same bytes: a read of every float (a vector sum, which the CPU cannot skip) and a
/// copy (read + write), each split over every core in contiguous chunks, like the kernel.
/// </summary>
internal static class MemoryLimits
{
    public static float Read(float[] source)
    {
        int parts = Math.Max(1, Math.Min(Environment.ProcessorCount * 4, source.Length / 65536));
        var sums = new float[parts];
        Parallel.For(0, parts, p =>
        {
            (int start, int length) = Chunk(source.Length, parts, p);
            sums[p] = TensorPrimitives.Sum(source.AsSpan(start, length));
        });
        return sums.Sum();
    }

    public static void Copy(float[] source, float[] destination)
    {
        int parts = Math.Max(1, Math.Min(Environment.ProcessorCount * 4, source.Length / 65536));
        Parallel.For(0, parts, p =>
        {
            (int start, int length) = Chunk(source.Length, parts, p);
            source.AsSpan(start, length).CopyTo(destination.AsSpan(start, length));
        });
    }

    private static (int Start, int Length) Chunk(int total, int parts, int p)
    {
        long start = (long)total * p / parts, end = (long)total * (p + 1) / parts;
        return ((int)start, (int)(end - start));
    }
}
