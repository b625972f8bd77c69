using Xent.Kernels;

namespace Xent.Tests.Core;

/// <summary>A parallel call's job is reused for the next call once no worker can hold it.</summary>
[Collection(nameof(WorkerPoolAllocationTests))]
public class WorkerPoolAllocationTests
{
    [Fact]
    public void RunReusesItsJob()
    {
        int sum = 0;
        Action<int> body = i => Interlocked.Add(ref sum, i);

        // Alone in the run (the collection below), but the pool's workers may still be leaving another test's last job
        // (then a new one is made): one call of the many that allocates nothing is enough, where every call allocated one.
        long fewest = long.MaxValue;
        int ran = 0;
        for (int attempt = 0; attempt < 1000 && fewest > 0; attempt++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            bool got = WorkerPool.TryRun(8, 2, body);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            if (got)
            {
                ran++;
                fewest = Math.Min(fewest, allocated);
            }
        }

        Assert.True(ran > 0, "The pool was busy for all 1000 calls.");
        Assert.Equal(0, fewest);
    }
}

/// <summary>Runs <see cref="WorkerPoolAllocationTests"/> alone: a test holding the pool makes its calls fall back.</summary>
[CollectionDefinition(nameof(WorkerPoolAllocationTests), DisableParallelization = true)]
public sealed class WorkerPoolAllocationCollection;
