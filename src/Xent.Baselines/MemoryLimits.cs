using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Xent.Baselines;

/// <summary>How a read limit reads every float.</summary>
public enum ReadMethod
{
    /// <summary><see cref="TensorPrimitives.Sum(ReadOnlySpan{float})"/>, the library's own vector sum.</summary>
    TensorPrimitivesSum,

    /// <summary>Four independent <see cref="Vector{T}"/> accumulators, so that no add waits for the previous one.</summary>
    FourVectorSums,

    /// <summary>Eight independent accumulators of the widest vector the hardware accelerates (512 bits with AVX-512, where <see cref="Vector{T}"/> is 256), a cache line per load.</summary>
    EightWideSums,
}

/// <summary>How a copy limit reads and writes every float.</summary>
public enum CopyMethod
{
    /// <summary><see cref="Span{T}.CopyTo(Span{T})"/> (the runtime's memmove).</summary>
    SpanCopy,

    /// <summary>Vector loads and non-temporal (streaming) stores, which skip reading the destination into the cache first; falls back to <see cref="SpanCopy"/> without 256-bit vectors.</summary>
    NonTemporalStores,
}

/// <summary>
/// This machine's memory limits for the bytes a loss must move: a read of every float (a sum, which the CPU cannot
/// skip) bounds a loss, a copy (read + write) bounds a loss with gradient. Each splits the buffer into contiguous
/// parts over the given threads, as the kernels do. A limit is only honest as the best of what the machine allows,
/// so callers time every method, thread count and size and keep the fastest (see <see cref="Best"/>).
/// </summary>
public static unsafe class MemoryLimits
{
    /// <summary>Reads every float of <paramref name="source"/>.</summary>
    /// <param name="source">The buffer; its pages should be touched first (<see cref="Touched"/>).</param>
    /// <param name="threads">Threads, each reading one contiguous part.</param>
    /// <param name="method">How to read.</param>
    /// <returns>The sum, so that the work cannot be optimised away.</returns>
    public static float Read(ReadOnlyMemory<float> source, int threads, ReadMethod method)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        var partial = new float[threads];
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, p =>
        {
            var (start, end) = Parts.Range(source.Length, threads, p);
            var part = source.Span.Slice(start, end - start);
            partial[p] = method switch
            {
                ReadMethod.TensorPrimitivesSum => TensorPrimitives.Sum(part),
                ReadMethod.FourVectorSums => FourSums(part),
                _ => EightWideSums(part),
            };
        });
        return partial.Sum();
    }

    /// <summary>Copies <paramref name="source"/> into <paramref name="destination"/>.</summary>
    /// <param name="source">The buffer read.</param>
    /// <param name="destination">The buffer written, at least as long.</param>
    /// <param name="threads">Threads, each copying one contiguous part.</param>
    /// <param name="method">How to copy.</param>
    public static void Copy(ReadOnlyMemory<float> source, Memory<float> destination, int threads, CopyMethod method)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, source.Length);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, p =>
        {
            var (start, end) = Parts.Range(source.Length, threads, p);
            var from = source.Span.Slice(start, end - start);
            var to = destination.Span.Slice(start, end - start);
            if (method == CopyMethod.NonTemporalStores && Vector256.IsHardwareAccelerated && Sse.IsSupported)
            {
                StreamingCopy(from, to);
            }
            else
            {
                from.CopyTo(to);
            }
        });
    }

    /// <summary>A buffer whose pages are really mapped: untouched pages all map the one zero page, which caches.</summary>
    /// <param name="length">Floats.</param>
    /// <returns>The buffer, every float 1.</returns>
    public static float[] Touched(int length)
    {
        var buffer = GC.AllocateUninitializedArray<float>(length);
        buffer.AsSpan().Fill(1f);
        return buffer;
    }

    /// <summary>
    /// The fastest read and copy of <paramref name="source"/> over every method and thread count given: each is
    /// timed by <paramref name="time"/> (which should warm it until steady) and the smallest median is kept.
    /// </summary>
    /// <param name="source">The buffer read (touched).</param>
    /// <param name="destination">The buffer written (touched, at least as long).</param>
    /// <param name="threadCounts">Thread counts to try.</param>
    /// <param name="time">Times an action; returns the timings.</param>
    /// <returns>The best read and the best copy, with how each was made.</returns>
    public static (MemoryLimit Read, MemoryLimit Copy) Best(ReadOnlyMemory<float> source, Memory<float> destination, IEnumerable<int> threadCounts,
        Func<Action, Timing> time)
    {
        ArgumentNullException.ThrowIfNull(threadCounts);
        ArgumentNullException.ThrowIfNull(time);
        MemoryLimit? read = null, copy = null;
        foreach (int threads in threadCounts.Distinct())
        {
            foreach (var method in Enum.GetValues<ReadMethod>())
            {
                var limit = new MemoryLimit(method.ToString(), threads, time(() => Read(source, threads, method)), source.Length * 4L);
                read = Faster(read, limit);
            }

            foreach (var method in Enum.GetValues<CopyMethod>())
            {
                var limit = new MemoryLimit(method.ToString(), threads, time(() => Copy(source, destination, threads, method)), 2 * source.Length * 4L);
                copy = Faster(copy, limit);
            }
        }

        return (read ?? throw new ArgumentException("No thread count given.", nameof(threadCounts)), copy!);
    }

    /// <summary>The limit with the higher bandwidth (limits of different sizes compare by bytes per second).</summary>
    /// <param name="a">A limit, or null.</param>
    /// <param name="b">Another.</param>
    /// <returns>The faster.</returns>
    public static MemoryLimit Faster(MemoryLimit? a, MemoryLimit b)
    {
        ArgumentNullException.ThrowIfNull(b);
        return a is not null && a.BytesPerSecond >= b.BytesPerSecond ? a : b;
    }

    private static float FourSums(ReadOnlySpan<float> values)
    {
        var a = Vector<float>.Zero;
        var b = Vector<float>.Zero;
        var c = Vector<float>.Zero;
        var d = Vector<float>.Zero;
        int w = Vector<float>.Count, i = 0;
        for (; i <= values.Length - (4 * w); i += 4 * w)
        {
            a += new Vector<float>(values.Slice(i));
            b += new Vector<float>(values.Slice(i + w));
            c += new Vector<float>(values.Slice(i + (2 * w)));
            d += new Vector<float>(values.Slice(i + (3 * w)));
        }

        float sum = Vector.Sum(a + b + c + d);
        for (; i < values.Length; i++)
        {
            sum += values[i];
        }

        return sum;
    }

    // Through a pointer: no slicing or bounds checks between the loads. On one Zen 5 core, 51 MB, best of 30 under
    // load: 42 GB/s against 35-36 for the other two methods; PyTorch 1.13's sum read 40-52 GB/s in the same hour.
    private static float EightWideSums(ReadOnlySpan<float> values)
    {
        if (!Vector512.IsHardwareAccelerated)
        {
            return FourSums(values);
        }

        fixed (float* p = values)
        {
            var a = Vector512<float>.Zero;
            var b = a;
            var c = a;
            var d = a;
            var e = a;
            var f = a;
            var g = a;
            var h = a;
            int w = Vector512<float>.Count, i = 0;
            for (; i <= values.Length - (8 * w); i += 8 * w)
            {
                a += Vector512.Load(p + i);
                b += Vector512.Load(p + i + w);
                c += Vector512.Load(p + i + (2 * w));
                d += Vector512.Load(p + i + (3 * w));
                e += Vector512.Load(p + i + (4 * w));
                f += Vector512.Load(p + i + (5 * w));
                g += Vector512.Load(p + i + (6 * w));
                h += Vector512.Load(p + i + (7 * w));
            }

            float sum = Vector512.Sum(((a + b) + (c + d)) + ((e + f) + (g + h)));
            for (; i < values.Length; i++)
            {
                sum += p[i];
            }

            return sum;
        }
    }

    private static void StreamingCopy(ReadOnlySpan<float> from, Span<float> to)
    {
        fixed (float* s = from, d = to)
        {
            int n = from.Length, i = 0;
            // Streaming stores need 32-byte aligned destinations: copy up to the first aligned float one by one.
            while (i < n && ((nuint)(d + i) & 31) != 0)
            {
                d[i] = s[i];
                i++;
            }

            for (; i <= n - 8; i += 8)
            {
                Vector256.Load(s + i).StoreAlignedNonTemporal(d + i);
            }

            for (; i < n; i++)
            {
                d[i] = s[i];
            }

            // Streaming stores are weakly ordered: make them visible before the caller reads the destination.
            Sse.StoreFence();
        }
    }
}

/// <summary>One measured memory limit.</summary>
/// <param name="Method">The read or copy method.</param>
/// <param name="Threads">Threads it used.</param>
/// <param name="Timing">Its timings.</param>
/// <param name="Bytes">Bytes moved per run (read, or read + write: twice the buffer).</param>
public sealed record MemoryLimit(string Method, int Threads, Timing Timing, long Bytes)
{
    /// <summary>Bytes per second at the median.</summary>
    public double BytesPerSecond => Bytes / Timing.Median;
}
