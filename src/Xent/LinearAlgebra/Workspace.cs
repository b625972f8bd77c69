namespace Xent.LinearAlgebra;

/// <summary>
/// Per-thread scratch memory of the kernels, grown on demand and reused across calls, so a call allocates nothing
/// proportional to its sizes. Buffers are pinned and 64-byte aligned: the kernel loads whole cache lines.
/// </summary>
internal sealed unsafe class Workspace
{
    [ThreadStatic]
    private static Workspace? current;

    private readonly Buffer[] buffers = [new(), new(), new(), new(), new(), new()];

    /// <summary>The calling thread's workspace.</summary>
    public static Workspace Current => current ??= new Workspace();

    /// <summary>Slot <paramref name="slot"/> (0..5) with room for at least <paramref name="length"/> floats.</summary>
    public float* Get(int slot, long length) => buffers[slot].Get(length);

    private sealed class Buffer
    {
        private float[]? array;
        private float* aligned;
        private long capacity;

        public float* Get(long length)
        {
            if (length > capacity)
            {
                long size = Math.Max(length, capacity * 3 / 2) + 16;
                array = GC.AllocateUninitializedArray<float>(checked((int)size), pinned: true);
                fixed (float* p = array)
                {
                    // Pinned-heap arrays never move, so the aligned pointer stays valid while the array lives.
                    aligned = (float*)(((nint)p + 63) & ~(nint)63);
                }

                capacity = size - 16;
            }

            return aligned;
        }
    }
}
