namespace Xent.Fused;

/// <summary>
/// The fused kernel's per-call buffers (its tile cache and partial sums, at most about 52 MB each), kept for the next
/// calls. A training loop calls the kernel with the same sizes every step, and a fresh buffer costs a page fault per
/// 4 KB page on first touch (about 10 ms a call for 32 MB, on both threads at once). Up to <see cref="Slots"/> buffers
/// are kept for the whole process, one per call running at once: a lone caller keeps one, and concurrent calls (two
/// threads each computing a loss) each find their own, where with one kept buffer the second allocated a new one
/// (native memory and its 32-byte handle) every call. A call that finds none big enough frees one that is too small
/// and allocates its own; a buffer given back is kept in a free slot, or in place of a smaller one, unless it is over
/// both <see cref="MaxKeptBytes"/> and the budget the caller chose (a very large D: then a page fault per page is small
/// next to the call's work, and holding the memory is not). <see cref="Release"/> frees them. Who owns which scratch
/// memory: <see cref="LinearAlgebra.Workspace"/>.
/// </summary>
internal static unsafe class ScratchPool
{
    /// <summary>Buffers above this are freed when their call ends instead of being kept.</summary>
    public const long MaxKeptBytes = 96L << 20;

    /// <summary>How many buffers are kept at most: as many calls at once as this run with no allocation.</summary>
    public const int Slots = 4;

    private static readonly Scratch?[] Kept = new Scratch?[Slots];

    /// <summary>A buffer of at least <paramref name="floats"/> floats, 64-byte aligned, contents undefined.</summary>
    public static Scratch Rent(long floats)
    {
        for (int i = 0; i < Slots; i++)
        {
            var s = Volatile.Read(ref Kept[i]);
            if (s != null && s.Floats >= floats && Interlocked.CompareExchange(ref Kept[i], null, s) == s)
            {
                return s;
            }
        }

        // None big enough: one too small goes, so that the larger one this call makes takes its place.
        for (int i = 0; i < Slots; i++)
        {
            if (Interlocked.Exchange(ref Kept[i], null) is { } small)
            {
                small.Free();
                break;
            }
        }

        return new Scratch(floats);
    }

    /// <summary>Gives the buffer back: kept in a free slot or in place of a smaller one, unless it is too large to keep.</summary>
    /// <param name="s">The buffer from <see cref="Rent"/>.</param>
    /// <param name="budgetBytes">What the call was allowed to use: a buffer within it (or within MaxKeptBytes) is kept.</param>
    public static void Return(Scratch s, long budgetBytes = 0)
    {
        if (s.Floats * sizeof(float) > Math.Max(MaxKeptBytes, budgetBytes))
        {
            s.Free();
            return;
        }

        for (int i = 0; i < Slots; i++)
        {
            if (Interlocked.CompareExchange(ref Kept[i], s, null) == null)
            {
                return;
            }
        }

        for (int i = 0; i < Slots; i++)
        {
            var current = Volatile.Read(ref Kept[i]);
            if (current != null && current.Floats < s.Floats && Interlocked.CompareExchange(ref Kept[i], s, current) == current)
            {
                current.Free();
                return;
            }
        }

        s.Free();
    }

    /// <summary>Frees the kept buffers, if any (buffers in use are freed when their call returns them).</summary>
    public static void Release()
    {
        for (int i = 0; i < Slots; i++)
        {
            Interlocked.Exchange(ref Kept[i], null)?.Free();
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
