using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Xent.Kernels;

namespace Xent.Baselines;

/// <summary>How a read limit reads every float.</summary>
public enum ReadMethod
{
    /// <summary><see cref="TensorPrimitives.Sum(ReadOnlySpan{float})"/>, the library's own vector sum.</summary>
    TensorPrimitivesSum,

    /// <summary>Four independent <see cref="Vector{T}"/> accumulators, so that no add waits for the previous one.</summary>
    FourVectorSums,

    /// <summary>
    /// Eight independent accumulators of the widest vector the hardware accelerates (512 bits with AVX-512, else
    /// 256), through a pointer; the only method that honours a prefetch distance (prefetcht0 of every line that
    /// far ahead, as the loss kernel does).
    /// </summary>
    EightWideSums,
}

/// <summary>How a copy limit reads and writes every float.</summary>
public enum CopyMethod
{
    /// <summary><see cref="Span{T}.CopyTo(Span{T})"/> (the runtime's memmove).</summary>
    SpanCopy,

    /// <summary>
    /// Loads of the widest accelerated vector and non-temporal (streaming) stores, which skip reading the
    /// destination into the cache first; honours a prefetch distance; falls back to <see cref="SpanCopy"/> without
    /// 256-bit vectors.
    /// </summary>
    NonTemporalStores,

    /// <summary>
    /// Each vector of the destination loaded, negated and stored back where it was (the source is not read; the sign
    /// flip costs nothing beside the load and the store, and shows that every float was written): the traffic of a
    /// kernel that writes over what it reads, as `LossAndGradient` in place does, whose lines are in the cache when
    /// they are written, so that neither a read for ownership nor a streaming store is needed. The limit of such a
    /// kernel only, not of one that writes a buffer of its own (<see cref="MemoryLimits.OutOfPlace"/>): on a Zen 4
    /// (2 threads, 262 MB) it moved 51.8 GB/s where the fastest copy between two buffers moved 43.7.
    /// </summary>
    InPlace,
}

/// <summary>
/// One way to read or copy a buffer: the method, how far ahead it prefetches, and how the buffer is dealt to the
/// threads: one contiguous part each (<see cref="ChunkBytes"/> 0), or chunks of that many bytes claimed one at a
/// time, so the threads read neighbouring memory, as the kernels deal rows.
/// </summary>
/// <param name="Read">The read method (reads only).</param>
/// <param name="Copy">The copy method (copies only).</param>
/// <param name="PrefetchBytes">Prefetch distance in bytes, 0 for none (EightWideSums and NonTemporalStores only).</param>
/// <param name="ChunkBytes">Bytes per chunk dealt to the threads, 0 for one contiguous part per thread.</param>
public readonly record struct MemoryMethod(ReadMethod Read, CopyMethod Copy, int PrefetchBytes, int ChunkBytes)
{
    /// <summary>A read method.</summary>
    /// <param name="read">How to read.</param>
    /// <param name="prefetchBytes">Prefetch distance, 0 for none.</param>
    /// <param name="chunkBytes">Chunk size dealt to the threads, 0 for contiguous parts.</param>
    /// <returns>The method.</returns>
    public static MemoryMethod Reading(ReadMethod read, int prefetchBytes = 0, int chunkBytes = 0) => new(read, default, prefetchBytes, chunkBytes);

    /// <summary>A copy method.</summary>
    /// <param name="copy">How to copy.</param>
    /// <param name="prefetchBytes">Prefetch distance, 0 for none.</param>
    /// <param name="chunkBytes">Chunk size dealt to the threads, 0 for contiguous parts.</param>
    /// <returns>The method.</returns>
    public static MemoryMethod Copying(CopyMethod copy, int prefetchBytes = 0, int chunkBytes = 0) => new(default, copy, prefetchBytes, chunkBytes);

    /// <summary>The read method's description, e.g. "EightWideSums, prefetch 8 KB, 256 KB chunks".</summary>
    public string ReadName => Describe(Read.ToString());

    /// <summary>The copy method's description.</summary>
    public string CopyName => Describe(Copy.ToString());

    private string Describe(string method) =>
        method + (PrefetchBytes > 0 ? $", prefetch {PrefetchBytes / 1024} KB" : "") + (ChunkBytes > 0 ? $", {ChunkBytes / 1024} KB chunks" : "");
}

/// <summary>
/// This machine's memory limits for the bytes a loss must move: a read of every float (a sum, which the CPU cannot
/// skip) bounds a loss, a copy (read + write) bounds a loss with gradient. The threads are the kernels' own
/// persistent workers (the caller takes part), never the runtime's pool. A limit is only honest as the best of
/// what the machine allows, so callers time every method, thread count and size and keep the fastest (see
/// <see cref="Ranked"/>): a limit below what another program reads would make a kernel look faster than memory.
/// </summary>
public static unsafe class MemoryLimits
{
    private const int ParallelChunkBytes = 256 << 10;

    /// <summary>
    /// The read methods <see cref="Ranked"/> times: the plain ones, and the widest sums with prefetch at 2, 8 (the
    /// loss kernel's distance) and 32 KB, in contiguous parts and in 256 KB chunks dealt as the kernels deal rows.
    /// On a Zen 5 VM (2 threads, 412 MB) the prefetching ones read 1.2-1.3x faster than the plain ones.
    /// </summary>
    public static IReadOnlyList<MemoryMethod> ReadMethods { get; } =
    [
        MemoryMethod.Reading(ReadMethod.TensorPrimitivesSum),
        MemoryMethod.Reading(ReadMethod.FourVectorSums),
        MemoryMethod.Reading(ReadMethod.EightWideSums),
        MemoryMethod.Reading(ReadMethod.EightWideSums, 2 << 10),
        MemoryMethod.Reading(ReadMethod.EightWideSums, 8 << 10),
        MemoryMethod.Reading(ReadMethod.EightWideSums, 32 << 10),
        MemoryMethod.Reading(ReadMethod.EightWideSums, 2 << 10, ParallelChunkBytes),
        MemoryMethod.Reading(ReadMethod.EightWideSums, 8 << 10, ParallelChunkBytes),
    ];

    /// <summary>
    /// The copy methods <see cref="Ranked"/> times: memmove, and streaming stores with and without prefetch, in parts and
    /// in chunks; and the destination rewritten in place (<see cref="CopyMethod.InPlace"/>, which only bounds a kernel
    /// that writes over its input: see <see cref="OutOfPlace"/>).
    /// </summary>
    public static IReadOnlyList<MemoryMethod> CopyMethods { get; } =
    [
        MemoryMethod.Copying(CopyMethod.SpanCopy),
        MemoryMethod.Copying(CopyMethod.NonTemporalStores),
        MemoryMethod.Copying(CopyMethod.NonTemporalStores, 2 << 10),
        MemoryMethod.Copying(CopyMethod.NonTemporalStores, 8 << 10),
        MemoryMethod.Copying(CopyMethod.NonTemporalStores, 2 << 10, ParallelChunkBytes),
        MemoryMethod.Copying(CopyMethod.InPlace),
    ];

    /// <summary>Reads every float of <paramref name="source"/>.</summary>
    /// <param name="source">The buffer; its pages should be touched first (<see cref="Touched"/>).</param>
    /// <param name="threads">Threads, each reading one contiguous part; at most the core count run.</param>
    /// <param name="method">How to read.</param>
    /// <returns>The sum, so that the work cannot be optimised away.</returns>
    public static float Read(ReadOnlyMemory<float> source, int threads, ReadMethod method) =>
        Read(source, threads, MemoryMethod.Reading(method));

    /// <summary>Reads every float of <paramref name="source"/>.</summary>
    /// <param name="source">The buffer; its pages should be touched first (<see cref="Touched"/>).</param>
    /// <param name="threads">Threads; at most the core count run.</param>
    /// <param name="method">How to read, prefetch and deal the buffer to the threads.</param>
    /// <returns>The sum (of the parts or chunks in order), so that the work cannot be optimised away.</returns>
    public static float Read(ReadOnlyMemory<float> source, int threads, MemoryMethod method)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(method.PrefetchBytes);
        ArgumentOutOfRangeException.ThrowIfNegative(method.ChunkBytes);
        threads = Baselines.Parts.AtMostTheCores(threads);
        using var pin = source.Pin();
        float* p = (float*)pin.Pointer;
        int length = source.Length, parts = Parts(length, threads, method.ChunkBytes);
        var partial = new float[parts];
        Run(parts, threads, part =>
        {
            var (start, end) = Range(length, parts, method.ChunkBytes, part);
            int n = end - start;
            partial[part] = method.Read switch
            {
                ReadMethod.TensorPrimitivesSum => TensorPrimitives.Sum(new ReadOnlySpan<float>(p + start, n)),
                ReadMethod.FourVectorSums => FourSums(new ReadOnlySpan<float>(p + start, n)),
                _ => WideSums(p + start, n, method.PrefetchBytes),
            };
        });
        float sum = 0;
        foreach (float s in partial)
        {
            sum += s;
        }

        return sum;
    }

    /// <summary>Copies <paramref name="source"/> into <paramref name="destination"/>.</summary>
    /// <param name="source">The buffer read.</param>
    /// <param name="destination">The buffer written, at least as long.</param>
    /// <param name="threads">Threads, each copying one contiguous part; at most the core count run.</param>
    /// <param name="method">How to copy.</param>
    public static void Copy(ReadOnlyMemory<float> source, Memory<float> destination, int threads, CopyMethod method) =>
        Copy(source, destination, threads, MemoryMethod.Copying(method));

    /// <summary>
    /// Copies <paramref name="source"/> into <paramref name="destination"/> (with <see cref="CopyMethod.InPlace"/>,
    /// negates as many floats of <paramref name="destination"/> in place instead).
    /// </summary>
    /// <param name="source">The buffer read.</param>
    /// <param name="destination">The buffer written, at least as long.</param>
    /// <param name="threads">Threads; at most the core count run.</param>
    /// <param name="method">How to copy, prefetch and deal the buffer to the threads.</param>
    public static void Copy(ReadOnlyMemory<float> source, Memory<float> destination, int threads, MemoryMethod method)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, source.Length);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(method.PrefetchBytes);
        ArgumentOutOfRangeException.ThrowIfNegative(method.ChunkBytes);
        threads = Baselines.Parts.AtMostTheCores(threads);
        using var pinSource = source.Pin();
        using var pinDestination = destination.Pin();
        float* s = (float*)pinSource.Pointer, d = (float*)pinDestination.Pointer;
        int length = source.Length, parts = Parts(length, threads, method.ChunkBytes);
        Run(parts, threads, part =>
        {
            var (start, end) = Range(length, parts, method.ChunkBytes, part);
            if (method.Copy == CopyMethod.InPlace)
            {
                Rewrite(d + start, end - start);
            }
            else if (method.Copy == CopyMethod.NonTemporalStores && Vector256.IsHardwareAccelerated && Sse.IsSupported)
            {
                StreamingCopy(s + start, d + start, end - start, method.PrefetchBytes);
            }
            else
            {
                new ReadOnlySpan<float>(s + start, end - start).CopyTo(new Span<float>(d + start, end - start));
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
    /// Every read and copy of <paramref name="source"/> over the methods of <see cref="ReadMethods"/> and
    /// <see cref="CopyMethods"/> and every thread count given (chunked methods only on more than one thread, where
    /// they differ from a contiguous read), ranked fastest first: each is timed by <paramref name="time"/> (which should
    /// warm it until steady) and keeps its smallest median. With <paramref name="screen"/>, every candidate is first
    /// timed by it (a few runs) and only the <paramref name="finalists"/> fastest reads and copies by
    /// <paramref name="time"/>; every timing taken counts, so each limit is the best median measured. The first of
    /// each list is the limit; tools time the fastest few again beside their kernels (<see cref="LimitReruns"/>), since
    /// which method is fastest can change with the host's state (on a Zen 4 VM whose memory moves between two speeds,
    /// a prefetching read was the fastest in one run and 9-17% slower than the fastest plain one minutes later). The
    /// copies include the rewrite in place (<see cref="CopyMethod.InPlace"/>), the limit of a kernel that writes over
    /// its input only; for one that writes a buffer of its own take <see cref="OutOfPlace"/> of them.
    /// </summary>
    /// <param name="source">The buffer read (touched).</param>
    /// <param name="destination">The buffer written (touched, at least as long).</param>
    /// <param name="threadCounts">Thread counts to try; one above the cores runs (and is labelled) as the cores.</param>
    /// <param name="time">Times an action; returns the timings.</param>
    /// <param name="screen">A cheaper timer for every candidate, or null to time each by <paramref name="time"/>.</param>
    /// <param name="finalists">How many of the fastest screened reads (and copies) <paramref name="time"/> times again.</param>
    /// <returns>Every read and every copy candidate, fastest first, each with how it was made.</returns>
    public static (IReadOnlyList<MemoryLimit> Reads, IReadOnlyList<MemoryLimit> Copies) Ranked(ReadOnlyMemory<float> source, Memory<float> destination,
        IEnumerable<int> threadCounts, Func<Action, Timing> time, Func<Action, Timing>? screen = null, int finalists = 2)
    {
        ArgumentNullException.ThrowIfNull(time);
        var counts = Counts(threadCounts);
        var reads = RankedReads(source, counts, time, screen, finalists);
        var candidates = counts.SelectMany(t => CopyMethods.Where(m => t > 1 || m.ChunkBytes == 0).Select(m => (Threads: t, Method: m)));
        return (reads, RankCandidates(candidates, (c, timer) =>
            new(c.Method.CopyName, c.Threads, timer(() => Copy(source, destination, c.Threads, c.Method)), 2 * source.Length * 4L, c.Method), time, screen, finalists));
    }

    /// <summary>
    /// <see cref="Ranked"/>'s reads alone, for a buffer too large to copy beside (a decoding step's weights).
    /// </summary>
    /// <param name="source">The buffer read (touched).</param>
    /// <param name="threadCounts">Thread counts to try; one above the cores runs (and is labelled) as the cores.</param>
    /// <param name="time">Times an action; returns the timings.</param>
    /// <param name="screen">A cheaper timer for every candidate, or null to time each by <paramref name="time"/>.</param>
    /// <param name="finalists">How many of the fastest screened reads <paramref name="time"/> times again.</param>
    /// <returns>Every read candidate, fastest first.</returns>
    public static IReadOnlyList<MemoryLimit> RankedReads(ReadOnlyMemory<float> source, IEnumerable<int> threadCounts, Func<Action, Timing> time,
        Func<Action, Timing>? screen = null, int finalists = 2)
    {
        ArgumentNullException.ThrowIfNull(time);
        var candidates = Counts(threadCounts).SelectMany(t => ReadMethods.Where(m => t > 1 || m.ChunkBytes == 0).Select(m => (Threads: t, Method: m)));
        return RankCandidates(candidates, (c, timer) =>
            new(c.Method.ReadName, c.Threads, timer(() => Read(source, c.Threads, c.Method)), source.Length * 4L, c.Method), time, screen, finalists);
    }

    private static int[] Counts(IEnumerable<int> threadCounts)
    {
        ArgumentNullException.ThrowIfNull(threadCounts);
        // Counts above the cores run on the cores (Read and Copy cap them): a limit is labelled with the threads that
        // ran, and timed once for them.
        var counts = threadCounts.Select(Baselines.Parts.AtMostTheCores).Distinct().ToArray();
        return counts.Length > 0 ? counts : throw new ArgumentException("No thread count given.", nameof(threadCounts));
    }

    // Each candidate timed (screened first when a screen is given, then the finalists timed again), ranked.
    private static IReadOnlyList<MemoryLimit> RankCandidates(IEnumerable<(int Threads, MemoryMethod Method)> candidates,
        Func<(int Threads, MemoryMethod Method), Func<Action, Timing>, MemoryLimit> limit, Func<Action, Timing> time, Func<Action, Timing>? screen, int finalists)
    {
        if (screen is null)
        {
            return Rank(candidates.Select(c => limit(c, time)));
        }

        var screened = candidates.Select(c => limit(c, screen)).ToList();
        var final = screened.OrderByDescending(l => l.BytesPerSecond).Take(finalists).Select(l => limit((l.Threads, l.How), time)).ToList();
        return Rank(final.Concat(screened));
    }

    /// <summary>
    /// The copies between two buffers among <paramref name="copies"/> (every method but <see cref="CopyMethod.InPlace"/>):
    /// the limits of a kernel that writes a buffer of its own, which cannot write over the lines it has just read.
    /// </summary>
    /// <param name="copies">Copy limits, in their order.</param>
    /// <returns>Those between two buffers, in the same order.</returns>
    public static IReadOnlyList<MemoryLimit> OutOfPlace(IEnumerable<MemoryLimit> copies)
    {
        ArgumentNullException.ThrowIfNull(copies);
        return [.. copies.Where(l => l.How.Copy != CopyMethod.InPlace)];
    }

    /// <summary>
    /// Limits of one kind (reads, or copies) fastest first, one per method and thread count (its fastest timing; limits
    /// of different sizes compare by bytes per second, as <see cref="Faster"/> does).
    /// </summary>
    /// <param name="limits">Limits, several per method and thread count allowed.</param>
    /// <returns>The fastest of each method and thread count, fastest first.</returns>
    public static IReadOnlyList<MemoryLimit> Rank(IEnumerable<MemoryLimit> limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        return [.. limits.GroupBy(l => (l.Threads, l.How)).Select(g => g.Aggregate((MemoryLimit?)null, Faster)!).OrderByDescending(l => l.BytesPerSecond)];
    }

    /// <summary>
    /// <see cref="Ranked"/> with short timers (every candidate 3 runs after 3 to warm up, the 2 fastest reads and copies
    /// again, 5 runs after warming until steady, a second at most): for tools that then time the fastest few again side
    /// by side with kernels (<see cref="LimitReruns"/>).
    /// </summary>
    /// <param name="source">The buffer read (touched).</param>
    /// <param name="destination">The buffer written (touched, at least as long).</param>
    /// <param name="threadCounts">Thread counts to try; one above the cores runs (and is labelled) as the cores.</param>
    /// <returns>Every read and every copy candidate, fastest first.</returns>
    public static (IReadOnlyList<MemoryLimit> Reads, IReadOnlyList<MemoryLimit> Copies) QuickRanked(ReadOnlyMemory<float> source, Memory<float> destination, IEnumerable<int> threadCounts) =>
        Ranked(source, destination, threadCounts, QuickTime, QuickScreen);

    /// <summary><see cref="QuickRanked"/>'s reads alone (<see cref="RankedReads"/>).</summary>
    /// <param name="source">The buffer read (touched).</param>
    /// <param name="threadCounts">Thread counts to try; one above the cores runs (and is labelled) as the cores.</param>
    /// <returns>Every read candidate, fastest first.</returns>
    public static IReadOnlyList<MemoryLimit> QuickRankedReads(ReadOnlyMemory<float> source, IEnumerable<int> threadCounts) =>
        RankedReads(source, threadCounts, QuickTime, QuickScreen);

    private static Timing QuickTime(Action action) => Timing.Measure(action, 5, 1);

    private static Timing QuickScreen(Action action) => Timing.Measure(action, 3, 0);

    /// <summary>The limit with the higher bandwidth (limits of different sizes compare by bytes per second).</summary>
    /// <param name="a">A limit, or null.</param>
    /// <param name="b">Another.</param>
    /// <returns>The faster.</returns>
    public static MemoryLimit Faster(MemoryLimit? a, MemoryLimit b)
    {
        ArgumentNullException.ThrowIfNull(b);
        return a is not null && a.BytesPerSecond >= b.BytesPerSecond ? a : b;
    }

    // One item per thread (contiguous parts) or per chunk.
    private static int Parts(int length, int threads, int chunkBytes) =>
        chunkBytes == 0 ? threads : Math.Max(1, (int)((length + (long)ChunkFloats(chunkBytes) - 1) / ChunkFloats(chunkBytes)));

    private static int ChunkFloats(int chunkBytes) => Math.Max(1, chunkBytes / 4);

    private static (int Start, int End) Range(int length, int parts, int chunkBytes, int part)
    {
        if (chunkBytes == 0)
        {
            return Baselines.Parts.Range(length, parts, part);
        }

        int chunk = ChunkFloats(chunkBytes);
        long start = (long)part * chunk;
        return ((int)start, (int)Math.Min(length, start + chunk));
    }

    // The kernels' fork/join: persistent workers that claim items one at a time, the caller taking part.
    private static void Run(int items, int threads, Action<int> body) => ParallelWork.For(items, threads, body);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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

    // Through a pointer: no slicing or bounds checks between the loads. Prefetches never fault, so those past the
    // end of the part are harmless.
    private static float WideSums(float* p, int n, int prefetchBytes)
    {
        bool prefetch = prefetchBytes > 0 && Sse.IsSupported;
        if (Vector512.IsHardwareAccelerated)
        {
            return prefetch ? WideSums<Vector512Ops, Vector512<float>, Yes>(p, n, prefetchBytes) : WideSums<Vector512Ops, Vector512<float>, No>(p, n, 0);
        }

        if (Vector256.IsHardwareAccelerated)
        {
            return prefetch ? WideSums<Vector256Ops, Vector256<float>, Yes>(p, n, prefetchBytes) : WideSums<Vector256Ops, Vector256<float>, No>(p, n, 0);
        }

        return FourSums(new ReadOnlySpan<float>(p, n));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float WideSums<TOps, TV, TPrefetch>(float* p, int n, int prefetchBytes)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TPrefetch : struct, IConstant
    {
        TV a = TOps.Create(0f), b = a, c = a, d = a, e = a, f = a, g = a, h = a;
        int w = TOps.Count, i = 0;
        ref float x = ref *p;
        for (; i <= n - (8 * w); i += 8 * w)
        {
            if (TPrefetch.Value)
            {
                // The lines this iteration reads, prefetchBytes further on.
                StatisticsKernel.PrefetchChunk(ref *((byte*)(p + i) + prefetchBytes), 8 * w * sizeof(float));
            }

            a = TOps.Add(a, TOps.Load(ref x, i));
            b = TOps.Add(b, TOps.Load(ref x, i + w));
            c = TOps.Add(c, TOps.Load(ref x, i + (2 * w)));
            d = TOps.Add(d, TOps.Load(ref x, i + (3 * w)));
            e = TOps.Add(e, TOps.Load(ref x, i + (4 * w)));
            f = TOps.Add(f, TOps.Load(ref x, i + (5 * w)));
            g = TOps.Add(g, TOps.Load(ref x, i + (6 * w)));
            h = TOps.Add(h, TOps.Load(ref x, i + (7 * w)));
        }

        float sum = TOps.Sum(TOps.Add(TOps.Add(TOps.Add(a, b), TOps.Add(c, d)), TOps.Add(TOps.Add(e, f), TOps.Add(g, h))));
        for (; i < n; i++)
        {
            sum += p[i];
        }

        return sum;
    }

    private static void Rewrite(float* p, int n)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            Rewrite<Vector512Ops, Vector512<float>>(p, n);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Rewrite<Vector256Ops, Vector256<float>>(p, n);
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            Rewrite<Vector128Ops, Vector128<float>>(p, n);
        }
        else
        {
            for (int i = 0; i < n; i++)
            {
                p[i] = -p[i];
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rewrite<TOps, TV>(float* p, int n)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        int w = TOps.Count, i = 0;
        ref float x = ref *p;
        TV minusOne = TOps.Create(-1f);
        for (; i <= n - (4 * w); i += 4 * w)
        {
            TV a = TOps.Load(ref x, i), b = TOps.Load(ref x, i + w), c = TOps.Load(ref x, i + (2 * w)), e = TOps.Load(ref x, i + (3 * w));
            TOps.Store(TOps.Multiply(a, minusOne), ref x, i);
            TOps.Store(TOps.Multiply(b, minusOne), ref x, i + w);
            TOps.Store(TOps.Multiply(c, minusOne), ref x, i + (2 * w));
            TOps.Store(TOps.Multiply(e, minusOne), ref x, i + (3 * w));
        }

        for (; i < n; i++)
        {
            p[i] = -p[i];
        }
    }

    private static void StreamingCopy(float* s, float* d, int n, int prefetchBytes)
    {
        bool prefetch = prefetchBytes > 0;
        if (Vector512.IsHardwareAccelerated)
        {
            if (prefetch)
            {
                StreamingCopy<Vector512Ops, Vector512<float>, Yes>(s, d, n, prefetchBytes);
            }
            else
            {
                StreamingCopy<Vector512Ops, Vector512<float>, No>(s, d, n, 0);
            }
        }
        else if (prefetch)
        {
            StreamingCopy<Vector256Ops, Vector256<float>, Yes>(s, d, n, prefetchBytes);
        }
        else
        {
            StreamingCopy<Vector256Ops, Vector256<float>, No>(s, d, n, 0);
        }

        // Streaming stores are weakly ordered: make them visible before the caller reads the destination.
        Sse.StoreFence();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void StreamingCopy<TOps, TV, TPrefetch>(float* s, float* d, int n, int prefetchBytes)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TPrefetch : struct, IConstant
    {
        int w = TOps.Count, i = 0;
        ref float from = ref *s;
        ref float to = ref *d;
        // Streaming stores need aligned destinations: copy up to the first vector-aligned float one by one.
        while (i < n && ((nuint)(d + i) & (nuint)((w * sizeof(float)) - 1)) != 0)
        {
            d[i] = s[i];
            i++;
        }

        for (; i <= n - (4 * w); i += 4 * w)
        {
            if (TPrefetch.Value)
            {
                StatisticsKernel.PrefetchChunk(ref *((byte*)(s + i) + prefetchBytes), 4 * w * sizeof(float));
            }

            TV a = TOps.Load(ref from, i), b = TOps.Load(ref from, i + w), c = TOps.Load(ref from, i + (2 * w)), e = TOps.Load(ref from, i + (3 * w));
            TOps.StoreNonTemporal(a, ref to, i);
            TOps.StoreNonTemporal(b, ref to, i + w);
            TOps.StoreNonTemporal(c, ref to, i + (2 * w));
            TOps.StoreNonTemporal(e, ref to, i + (3 * w));
        }

        for (; i < n; i++)
        {
            d[i] = s[i];
        }
    }
}

/// <summary>One measured memory limit.</summary>
/// <param name="Method">The read or copy method.</param>
/// <param name="Threads">Threads it used.</param>
/// <param name="Timing">Its timings.</param>
/// <param name="Bytes">Bytes moved per run (read, or read + write: twice the buffer).</param>
/// <param name="How">The method, prefetch distance and dealing, to run it again (see <see cref="MemoryLimits.Read(ReadOnlyMemory{float}, int, MemoryMethod)"/>).</param>
public sealed record MemoryLimit(string Method, int Threads, Timing Timing, long Bytes, MemoryMethod How = default)
{
    /// <summary>Bytes per second at the median.</summary>
    public double BytesPerSecond => Bytes / Timing.Median;
}
