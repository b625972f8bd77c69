namespace Xent.Fused;

/// <summary>
/// The fused kernel's per-call buffers (its tile cache and partial sums, at most about 52 MB each), kept for the next
/// calls. A training loop calls the kernel with the same sizes every step, and a fresh buffer costs a page fault per
/// 4 KB page on first touch (about 10 ms a call for 32 MB, on both threads at once). Up to <see cref="Slots"/> buffers
/// are kept for the whole process, one per call running at once: a lone caller keeps one, and concurrent calls (two
/// threads each computing a loss) each find their own, where with one kept buffer the second allocated a new one
/// (native memory and its 32-byte handle) every call. A call that finds none big enough frees one that is too small
/// and allocates its own; a buffer given back is kept in a free slot, or in place of smaller ones, unless it is over
/// both <see cref="MaxKeptBytes"/> and the budget the caller chose (a very large D: then a page fault per page is small
/// next to the call's work, and holding the memory is not). What is kept over all slots stays within
/// <see cref="MaxKeptTotalBytes"/> (or twice the caller's budget): once-concurrent calls of large buffers do not hold
/// four of them between calls. <see cref="Release"/> frees them. Who owns which scratch
/// memory: <see cref="LinearAlgebra.Workspace"/>.
/// </summary>
internal static unsafe class ScratchPool
{
    /// <summary>Buffers above this are freed when their call ends instead of being kept.</summary>
    public const long MaxKeptBytes = 96L << 20;

    /// <summary>
    /// The most bytes kept over all slots (or twice the budget a caller chose, where larger): two calls at once, each
    /// within <see cref="MaxKeptBytes"/>, still keep a buffer each.
    /// </summary>
    public const long MaxKeptTotalBytes = 2 * MaxKeptBytes;

    /// <summary>How many buffers are kept at most: as many calls at once as this run with no allocation.</summary>
    public const int Slots = 4;

    private static readonly Scratch?[] Kept = new Scratch?[Slots];

    // The bytes of the kept buffers, counted as Return and Rent change them.
    private static long keptBytes;

    /// <summary>A buffer of at least <paramref name="floats"/> floats, 64-byte aligned, contents undefined.</summary>
    public static Scratch Rent(long floats)
    {
        for (int i = 0; i < Slots; i++)
        {
            var s = Volatile.Read(ref Kept[i]);
            if (s != null && s.Floats >= floats && Interlocked.CompareExchange(ref Kept[i], null, s) == s)
            {
                Interlocked.Add(ref keptBytes, -Bytes(s));
                return s;
            }
        }

        // None big enough: one too small goes, so that the larger one this call makes takes its place.
        for (int i = 0; i < Slots; i++)
        {
            if (Interlocked.Exchange(ref Kept[i], null) is { } small)
            {
                Interlocked.Add(ref keptBytes, -Bytes(small));
                small.Free();
                break;
            }
        }

        return new Scratch(floats);
    }

    /// <summary>
    /// Gives the buffer back: kept in a free slot, making room (a slot, or bytes within the total) by freeing smaller
    /// ones where needed, unless it is too large to keep.
    /// </summary>
    /// <param name="s">The buffer from <see cref="Rent"/>.</param>
    /// <param name="budgetBytes">What the call was allowed to use: a buffer within it (or within MaxKeptBytes) is kept.</param>
    public static void Return(Scratch s, long budgetBytes = 0)
    {
        long limit = Math.Max(MaxKeptBytes, budgetBytes), total = Math.Max(MaxKeptTotalBytes, 2 * budgetBytes), bytes = Bytes(s);
        if (bytes > limit)
        {
            s.Free();
            return;
        }

        // A larger buffer serves every call a smaller one does, so smaller ones go first when there is no room.
        do
        {
            if (Reserve(bytes, total))
            {
                for (int i = 0; i < Slots; i++)
                {
                    if (Interlocked.CompareExchange(ref Kept[i], s, null) == null)
                    {
                        return;
                    }
                }

                Interlocked.Add(ref keptBytes, -bytes);
            }
        }
        while (FreeOneSmaller(s.Floats));

        s.Free();
    }

    // Counts the bytes as kept if the total stays within the limit. Counted before the buffer is in a slot and
    // uncounted after it leaves one, the count is never below what the slots hold.
    private static bool Reserve(long bytes, long limit)
    {
        long total = Volatile.Read(ref keptBytes);
        while (total + bytes <= limit)
        {
            long seen = Interlocked.CompareExchange(ref keptBytes, total + bytes, total);
            if (seen == total)
            {
                return true;
            }

            total = seen;
        }

        return false;
    }

    private static bool FreeOneSmaller(long floats)
    {
        for (int i = 0; i < Slots; i++)
        {
            var current = Volatile.Read(ref Kept[i]);
            if (current != null && current.Floats < floats && Interlocked.CompareExchange(ref Kept[i], null, current) == current)
            {
                Interlocked.Add(ref keptBytes, -Bytes(current));
                current.Free();
                return true;
            }
        }

        return false;
    }

    private static long Bytes(Scratch s) => s.Floats * sizeof(float);

    /// <summary>The bytes of the buffers kept now (for tests).</summary>
    internal static long KeptBytes
    {
        get
        {
            long bytes = 0;
            for (int i = 0; i < Slots; i++)
            {
                bytes += Volatile.Read(ref Kept[i]) is { } s ? Bytes(s) : 0;
            }

            return bytes;
        }
    }

    /// <summary>Frees the kept buffers, if any (buffers in use are freed when their call returns them).</summary>
    public static void Release()
    {
        for (int i = 0; i < Slots; i++)
        {
            if (Interlocked.Exchange(ref Kept[i], null) is { } s)
            {
                Interlocked.Add(ref keptBytes, -Bytes(s));
                s.Free();
            }
        }
    }

    /// <summary>Native memory (N x D sized parts can pass 2^31 floats), freed explicitly: it never holds references.</summary>
    internal sealed class Scratch
    {
        public Scratch(long floats)
        {
            Floats = floats;
            // 64 bytes of slack past the end, as the kernels may read a whole vector beyond the last float they use.
            // Huge pages where large (ScratchMemory): a fresh buffer's first touch faults once per 2 MB, not per 4 KB.
            Pointer = (float*)LinearAlgebra.ScratchMemory.Allocate((floats * sizeof(float)) + 64);
        }

        public long Floats { get; }

        public float* Pointer { get; private set; }

        public void Free()
        {
            LinearAlgebra.ScratchMemory.Free(Pointer);
            Pointer = null;
        }
    }
}
