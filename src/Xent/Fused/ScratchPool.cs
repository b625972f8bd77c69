namespace Xent.Fused;

/// <summary>
/// The fused kernel's per-call buffer (its tile cache and partial sums, at most about 52 MB), kept for the next
/// call. A training loop calls the kernel with the same sizes every step, and a fresh buffer costs a page fault
/// per 4 KB page on first touch (about 10 ms a call for 32 MB, on both threads at once). One buffer is kept for the
/// whole process; a call that finds it taken (a concurrent call) or too small allocates its own, and the larger of
/// the two is kept afterwards, unless it is over both <see cref="MaxKeptBytes"/> and the budget the caller chose
/// (a very large D: then a page fault per page is small next to the call's work, and holding the memory is not).
/// <see cref="Release"/> frees it. Who owns which scratch memory: <see cref="LinearAlgebra.Workspace"/>.
/// </summary>
internal static unsafe class ScratchPool
{
    /// <summary>Buffers above this are freed when their call ends instead of being kept.</summary>
    public const long MaxKeptBytes = 96L << 20;

    private static Scratch? kept;

    /// <summary>A buffer of at least <paramref name="floats"/> floats, 64-byte aligned, contents undefined.</summary>
    public static Scratch Rent(long floats)
    {
        var s = Interlocked.Exchange(ref kept, null);
        if (s != null && s.Floats >= floats)
        {
            return s;
        }

        s?.Free();
        return new Scratch(floats);
    }

    /// <summary>Gives the buffer back: it is kept unless a larger one already is, or it is too large to keep.</summary>
    /// <param name="s">The buffer from <see cref="Rent"/>.</param>
    /// <param name="budgetBytes">What the call was allowed to use: a buffer within it (or within MaxKeptBytes) is kept.</param>
    public static void Return(Scratch s, long budgetBytes = 0)
    {
        if (s.Floats * sizeof(float) > Math.Max(MaxKeptBytes, budgetBytes))
        {
            s.Free();
            return;
        }

        while (true)
        {
            var current = Volatile.Read(ref kept);
            if (current != null && current.Floats >= s.Floats)
            {
                s.Free();
                return;
            }

            if (Interlocked.CompareExchange(ref kept, s, current) == current)
            {
                current?.Free();
                return;
            }
        }
    }

    /// <summary>Frees the kept buffer, if any (buffers in use are freed when their call returns them).</summary>
    public static void Release() => Interlocked.Exchange(ref kept, null)?.Free();

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
