using Xent.Kernels;

namespace Xent.Tests.Core;

public class WorkerPoolTests
{
    [Theory]
    [InlineData(1, 2)]
    [InlineData(2, 2)]
    [InlineData(7, 2)]
    [InlineData(1000, -1)]
    [InlineData(33, 3)]
    public void EveryItemRunsExactlyOnce(int count, int threads)
    {
        foreach (bool ends in new[] { false, true })
        {
            var runs = new int[count];
            for (int round = 0; round < 50; round++)
            {
                ParallelWork.For(count, threads, i => Interlocked.Increment(ref runs[i]), ends: ends);
            }

            Assert.All(runs, r => Assert.Equal(50, r));
        }
    }

    [Fact]
    public void FromBothEnds_TheCallerRunsAFirstStretch_AndTheWorkerTheRest()
    {
        // Items that take a while, so that the worker joins: the caller's items are the first ones, the worker's the last.
        // A round that ran on the runtime's pool (the pool busy with another test's call) says nothing and is skipped.
        const int count = 16;
        int caller = Environment.CurrentManagedThreadId;
        for (int round = 0; round < 5; round++)
        {
            var by = new int[count];
            ParallelWork.For(count, 2, i =>
            {
                by[i] = Environment.CurrentManagedThreadId == caller ? 0 : Thread.CurrentThread.Name?.StartsWith("Xent worker", StringComparison.Ordinal) == true ? 1 : 2;
                Thread.SpinWait(20_000);
            }, ends: true);
            if (by.Contains(2))
            {
                continue;
            }

            int firstOther = Array.IndexOf(by, 1);
            if (firstOther >= 0)
            {
                Assert.All(by[firstOther..], b => Assert.Equal(1, b));
            }
        }
    }

    [Fact]
    public void NestedAndConcurrentCalls_RunEveryItem()
    {
        long total = 0;
        Parallel.For(0, 8, _ =>
        {
            for (int round = 0; round < 20; round++)
            {
                ParallelWork.For(6, 2, i => ParallelWork.For(5, 2, j => Interlocked.Increment(ref total)));
            }
        });
        Assert.Equal(8 * 20 * 6 * 5, total);
    }

    [Fact]
    public void AnItemsException_ReachesTheCaller_AndThePoolStaysUsable()
    {
        // As itself whatever the thread count (it came wrapped in an AggregateException from 2 threads, bare from 1).
        foreach (int threads in new[] { 1, 2, -1 })
        {
            var e = Assert.Throws<InvalidOperationException>(() => ParallelWork.For(16, threads, i =>
            {
                if (i == 11)
                {
                    throw new InvalidOperationException("item 11");
                }
            }));
            Assert.Equal("item 11", e.Message);
            int count = 0;
            ParallelWork.For(16, threads, _ => Interlocked.Increment(ref count));
            Assert.Equal(16, count);
        }
    }

    [Fact]
    public void AllCores_OnAOneCoreMachine_RunsOnTheCallingThread()
    {
        // CI reruns this class under DOTNET_PROCESSOR_COUNT=1: there -1 went to the runtime's Parallel.For, which
        // allocated on every call (about 1.6 KB a training step). Elsewhere the items still run once each.
        int caller = Environment.CurrentManagedThreadId;
        var on = new int[64];
        ParallelWork.For(on.Length, -1, i => on[i] = Environment.CurrentManagedThreadId);
        var ranges = new int[64];
        ParallelWork.ForRanges(ranges.Length, 4, -1, new CountRanges(ranges));
        Assert.All(ranges, r => Assert.Equal(1, r));
        if (Environment.ProcessorCount == 1)
        {
            Assert.All(on, t => Assert.Equal(caller, t));
            var body = new Tally(new int[64]);
            ParallelWork.For(64, -1, body);
            long before = GC.GetAllocatedBytesForCurrentThread();
            ParallelWork.For(64, -1, body);
            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        else
        {
            Assert.All(on, t => Assert.NotEqual(0, t));
        }
    }

    private readonly struct CountRanges(int[] counts) : IWorkRanges
    {
        public void Run(int start, int end)
        {
            for (int i = start; i < end; i++)
            {
                Interlocked.Increment(ref counts[i]);
            }
        }
    }

    private readonly struct Tally(int[] counts) : IWorkItems
    {
        public void Run(int item) => Interlocked.Increment(ref counts[item]);
    }

    [Fact]
    public void TheVectorWidthOverride_FlowsIntoTheWorkers()
    {
        var seen = new VectorWidth[64];
        using (Simd.Override(VectorWidth.V128))
        {
            ParallelWork.For(seen.Length, 2, i =>
            {
                Thread.SpinWait(2000);
                seen[i] = Simd.Width;
            });
        }

        Assert.All(seen, w => Assert.Equal(VectorWidth.V128, w));
    }
}
