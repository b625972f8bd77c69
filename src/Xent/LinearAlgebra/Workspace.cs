namespace Xent.LinearAlgebra;

/// <summary>What each buffer of a thread's <see cref="Workspace"/> holds; two users of one slot never nest.</summary>
internal enum WorkspaceSlot
{
    /// <summary><see cref="MatMul"/>: a packed Mc x Kc panel of A.</summary>
    PackedA,

    /// <summary><see cref="MatMul"/>: a packed Kc x Nc panel of B.</summary>
    PackedB,

    /// <summary><see cref="MatMul"/>: one K block of the whole of B, packed by all threads and read by all (the calling thread's slot).</summary>
    SharedPackedB,

    /// <summary><see cref="MatMul.Panels"/>' callers: a B packed in micro-panels for one product (the fused kernel's gradient rows).</summary>
    PanelB,

    /// <summary><see cref="MatMul"/>: an edge tile of C, computed full-size.</summary>
    EdgeTile,

    /// <summary><see cref="MatMul.Panels"/>: the tiles' sums between the K parts of a sum block.</summary>
    PartialSums,

    /// <summary>The fused kernel: a logits tile [VocabBlock, TokenBlock] that is not cached.</summary>
    FusedTile,

    /// <summary>The fused kernel: per class of a tile, whether it is active, then the strip modes.</summary>
    FusedTileRows,

    /// <summary>The cross-entropy kernel: a block of logits converted from Half or soft-capped [BlockColumns].</summary>
    LogitsBlock,

    /// <summary>The cross-entropy kernel: a row's block statistics [blocks].</summary>
    BlockStatistics,

    /// <summary>
    /// The cross-entropy kernel, streaming an out-of-place float gradient: one block of exponentials recomputed by the
    /// two-pass loop; storing a 16-bit gradient's exponentials under a soft cap: a block's capped logits kept apart.
    /// </summary>
    ExponentialsBlock,

    /// <summary>The layers (<c>Xent.Layers</c>): per-thread rows and transposes of one work item.</summary>
    ModelRows,

    /// <summary><see cref="Gemv"/>: the row of A times alpha, contiguous [K] (the calling thread's slot, read by all).</summary>
    GemvRow,
}

/// <summary>
/// Per-thread scratch memory, grown on demand and kept for the thread's life, so that a call allocates nothing
/// proportional to its sizes. Buffers are native memory (<see cref="ScratchMemory"/>: huge pages from 1 MB on, so
/// that a process's first call does not pay a page fault per 4 KB), 64-byte aligned: the kernels load whole cache
/// lines. A buffer is freed when its slot grows or when its thread's workspace is collected.
/// </summary>
/// <remarks>
/// Who owns which scratch memory (also in docs/linear-cross-entropy.md):
/// <list type="bullet">
/// <item>This workspace: every buffer one thread needs while it runs one work item, small (at most a few
/// MB) and reused by every later call on that thread. One slot per use (<see cref="WorkspaceSlot"/>): the
/// matrix products' packed panels and edge tiles, the fused kernel's uncached tile, the cross-entropy kernel's
/// converted blocks and block statistics, the layers' (Xent.Layers) row buffers.</item>
/// <item><see cref="Xent.Fused.ScratchPool"/>: the fused kernel's one large per-call buffer (tile cache, partial
/// sums: up to about 52 MB), shared by its threads and kept for the next call of the process (one for each call
/// running at once, up to four), because a fresh
/// buffer of that size costs a page fault per 4 KB page on first touch, about 10-12 ms a call (measured when it
/// was added, see its remarks). Thread-sized buffers do not need this: they are reused by their thread.</item>
/// <item>Outputs and state that outlive one call (the model's activations and gradient buffers, Xent.Training's
/// <c>Activations</c> and <c>GradientScratch</c>) belong to their owner object, not to any pool.</item>
/// </list>
/// </remarks>
internal sealed unsafe class Workspace
{
    [ThreadStatic]
    private static Workspace? current;

    // One per slot (a constant, not Enum.GetValues: its reflection cost ~1 ms of a process's first call).
    private const int Slots = (int)WorkspaceSlot.GemvRow + 1;

    private readonly Buffer[] buffers = CreateBuffers();

    /// <summary>The calling thread's workspace.</summary>
    public static Workspace Current => current ??= new Workspace();

    /// <summary>Slot <paramref name="slot"/> with room for at least <paramref name="length"/> floats.</summary>
    public float* Get(WorkspaceSlot slot, long length) => buffers[(int)slot].Get(length);

    /// <summary>Slot <paramref name="slot"/> as <paramref name="length"/> values of an unmanaged type.</summary>
    public Span<T> Get<T>(WorkspaceSlot slot, int length)
        where T : unmanaged =>
        new(Get(slot, (((long)length * sizeof(T)) + sizeof(float) - 1) / sizeof(float)), length);

    private static Buffer[] CreateBuffers()
    {
        var b = new Buffer[Slots];
        for (int i = 0; i < b.Length; i++)
        {
            b[i] = new Buffer();
        }

        return b;
    }

    private sealed class Buffer
    {
        private float* block;
        private long capacity;

        ~Buffer() => ScratchMemory.Free(block);

        public float* Get(long length)
        {
            if (length > capacity)
            {
                long size = Math.Max(length, capacity * 3 / 2);
                ScratchMemory.Free(block);
                block = null;
                capacity = 0;
                // 64 bytes of slack past the end, as a vector loop may read one vector beyond the last float it uses.
                block = (float*)ScratchMemory.Allocate(checked(size * sizeof(float)) + 64);
                capacity = size;
            }

            return block;
        }
    }
}
