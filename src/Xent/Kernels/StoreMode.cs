using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace Xent.Kernels;

/// <summary>
/// How a gradient kernel writes its destination: ordinary stores, or streaming (non-temporal) stores from the first
/// vector-aligned element on, the unaligned head and the shifted-back tail stored by ordinary vectors. The values are
/// the same either way; only the store instruction changes. A type argument, so the JIT folds the choice away.
/// </summary>
internal interface IStoreMode
{
    /// <summary>Whether the body's stores are non-temporal.</summary>
    static abstract bool Streams { get; }
}

/// <summary>Ordinary stores: each line of the destination is read for ownership, then written, and stays in cache.</summary>
internal readonly struct OrdinaryStores : IStoreMode
{
    public static bool Streams => false;
}

/// <summary>
/// Non-temporal stores: whole lines written without first being read, past the caches (the copy limit's way).
/// Only for destinations that would leave the cache anyway (see <see cref="CrossEntropyKernel.StreamedGradientBytes"/>)
/// and never in place. The writer calls <see cref="Fence"/> before its data is read by another thread or the caller.
/// </summary>
internal readonly struct StreamingStores : IStoreMode
{
    public static bool Streams => true;

    /// <summary>
    /// The first element at or after <paramref name="destination"/> whose address is a multiple of
    /// <paramref name="vectorBytes"/> (a power of two); the destination is element-aligned, so this is below one
    /// vector's lanes, and an ordinary vector store at 0 covers the elements before it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe nint AlignedStart(ref byte destination, int vectorBytes, int elementSize)
    {
        nint misaligned = (nint)Unsafe.AsPointer(ref destination) & (vectorBytes - 1);
        return misaligned == 0 ? 0 : (vectorBytes - misaligned) / elementSize;
    }

    /// <summary>Whether streaming stores can write this destination: element-aligned (a pointer caller's odd address is not).</summary>
    public static unsafe bool Usable(void* destination, int elementSize) => ((nint)destination & (elementSize - 1)) == 0;

    /// <summary>Orders this thread's streaming stores before its later stores (and so before any signal that the work is done).</summary>
    public static void Fence()
    {
        if (Sse.IsSupported)
        {
            Sse.StoreFence();
        }
        else
        {
            Interlocked.MemoryBarrier();
        }
    }
}
