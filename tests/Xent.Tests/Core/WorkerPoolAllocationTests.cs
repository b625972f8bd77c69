using Xent.Kernels;

namespace Xent.Tests.Core;

/// <summary>A parallel call's job is reused for the next call once no worker can hold it.</summary>
public class WorkerPoolAllocationTests
{
    [Fact]
    public void RunReusesItsJob()
    {
        int sum = 0;
        Action<int> body = i => Interlocked.Add(ref sum, i);

        // Another test may hold the pool (then the call returns false), or a worker still leaving the last job (then a
        // new one is made): one call in the many that allocates nothing is enough, where every call allocated one.
        long fewest = long.MaxValue;
        for (int attempt = 0; attempt < 200 && fewest > 0; attempt++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            bool ran = WorkerPool.TryRun(8, 2, body);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            if (ran)
            {
                fewest = Math.Min(fewest, allocated);
            }
        }

        Assert.Equal(0, fewest);
    }
}
