namespace Xent.Kernels;

/// <summary>
/// Tests only: what the pool's workers allocate running items. Counting every thread's bytes (GC.GetTotalAllocatedBytes)
/// cannot tell a worker's garbage from another thread's, and a call whose items all ran on the caller (a worker asleep
/// or not yet scheduled) shows none of it; here each worker adds its own bytes and items, so a test sums exactly what
/// the workers did during its calls and sees whether they took part at all.
/// </summary>
internal static partial class WorkerPool
{
    private static long workerBytes;
    private static long workerItems;

    /// <summary>Whether workers count their items' bytes (off: one predictable branch a job for each worker).</summary>
    internal static bool CountWorkerBytes { get; set; }

    /// <summary>Bytes the workers have allocated in the items they ran while counting.</summary>
    internal static long WorkerBytes => Interlocked.Read(ref workerBytes);

    /// <summary>Items the workers have run while counting.</summary>
    internal static long WorkerItems => Interlocked.Read(ref workerItems);

    // Before the worker's items count as done, so that a caller back from its call sees them.
    private static void Counted(long before, int ran)
    {
        Interlocked.Add(ref workerBytes, GC.GetAllocatedBytesForCurrentThread() - before);
        Interlocked.Add(ref workerItems, ran);
    }
}
