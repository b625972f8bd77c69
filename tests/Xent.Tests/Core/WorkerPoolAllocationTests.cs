using System.Diagnostics;

using Xent.Kernels;

namespace Xent.Tests.Core;

/// <summary>
/// A parallel call's job is reused for the next call once no worker can hold it, and the workers count exactly what
/// their items allocate for the allocation tests (<see cref="AllocationCalls"/>).
/// </summary>
[Collection(nameof(RunsAloneCollection))]
public class WorkerPoolAllocationTests
{
    [Fact]
    public void RunReusesItsJob()
    {
        int sum = 0;
        Action<int> body = i => Interlocked.Add(ref sum, i);

        // Alone in the run (RunsAloneCollection), but the pool may still be held: by a compile warm-up an earlier test
        // left running (MatMul.WarmupAsync holds it for each of its products; 1000 calls in a row, under a millisecond,
        // all fell inside one), and a worker late to leave the last job makes the next call make a new one (on a loaded
        // machine, a worker not scheduled for a while was late for all 1000 calls in a row). One call of the many that
        // allocates nothing is enough, where every call allocated one: up to 1000 that run, for up to 30 s, each after a
        // pause where the last one met either.
        long fewest = long.MaxValue;
        int ran = 0;
        var elapsed = Stopwatch.StartNew();
        while (fewest > 0 && ran < 1000 && elapsed.Elapsed < TimeSpan.FromSeconds(30))
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            bool got = WorkerPool.TryRun(8, 2, body);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            ran += got ? 1 : 0;
            fewest = got ? Math.Min(fewest, allocated) : fewest;
            if (!got || allocated > 0)
            {
                Thread.Sleep(1);
            }
        }

        Assert.True(ran > 0, "The pool was busy for 30 s.");
        Assert.Equal(0, fewest);
    }

    [Fact]
    public void WorkersCountTheirItemsBytes()
    {
        if (Environment.ProcessorCount < 2)
        {
            return; // no worker: the caller runs every item
        }

        long one = GC.GetAllocatedBytesForCurrentThread();
        GC.KeepAlive(new object());
        one = GC.GetAllocatedBytesForCurrentThread() - one;
        Action<int> body = static _ => GC.KeepAlive(new object());

        // Until a worker takes part (on a loaded machine one may sleep through many calls).
        long items = 0, bytes = 0;
        var elapsed = Stopwatch.StartNew();
        WorkerPool.CountWorkerBytes = true;
        try
        {
            while (items == 0 && elapsed.Elapsed < TimeSpan.FromSeconds(30))
            {
                long itemsBefore = WorkerPool.WorkerItems, bytesBefore = WorkerPool.WorkerBytes;
                WorkerPool.TryRun(64, 2, body);
                items = WorkerPool.WorkerItems - itemsBefore;
                bytes = WorkerPool.WorkerBytes - bytesBefore;
            }
        }
        finally
        {
            WorkerPool.CountWorkerBytes = false;
        }

        Assert.True(items > 0, "No worker ran an item for 30 s.");
        Assert.Equal(items * one, bytes);
    }
}
