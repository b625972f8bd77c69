using Xent.Fused;

namespace Xent.Tests.Fused;

/// <summary>
/// The fused kernel's kept buffers: reused when big enough, one per call running at once, a larger one in place of a
/// smaller one when all are kept, never kept when huge.
/// The pool is process-wide: its test runs with no other test running (<see cref="RunsAloneCollection"/>; a fused
/// call would take the kept buffer).
/// </summary>
[Collection(nameof(RunsAloneCollection))]
public class ScratchPoolTests
{
    [Fact]
    public void KeepsABufferPerConcurrentCall_ReusesThem_AndFreesWhatIsTooLarge()
    {
        ScratchPool.Release();
        var a = ScratchPool.Rent(1000);
        ScratchPool.Return(a);
        var b = ScratchPool.Rent(500); // the kept one is big enough: the same buffer
        Assert.Same(a, b);
        var c = ScratchPool.Rent(2000); // taken: a fresh one
        Assert.NotSame(b, c);
        ScratchPool.Return(b);
        ScratchPool.Return(c); // both kept, for two calls at once
        Assert.Same(c, ScratchPool.Rent(1500)); // the one big enough
        Assert.Same(b, ScratchPool.Rent(10));
        ScratchPool.Return(b);
        ScratchPool.Return(c);

        long huge = (ScratchPool.MaxKeptBytes / sizeof(float)) + 1;
        var d = ScratchPool.Rent(huge); // none big enough: a fresh one (and one too small is freed)
        ScratchPool.Return(d); // too large to keep
        var e = ScratchPool.Rent(10);
        Assert.NotSame(d, e);
        ScratchPool.Return(e);
        ScratchPool.Release();

        // Every slot kept: a larger one given back takes a smaller one's place, a smaller one is freed.
        var small = Enumerable.Range(0, ScratchPool.Slots).Select(_ => ScratchPool.Rent(100)).ToList();
        var large = ScratchPool.Rent(3000);
        var smaller = ScratchPool.Rent(50);
        small.ForEach(s => ScratchPool.Return(s));
        ScratchPool.Return(large);
        ScratchPool.Return(smaller);
        Assert.Same(large, ScratchPool.Rent(3000));
        ScratchPool.Return(large);
        var kept = Enumerable.Range(0, ScratchPool.Slots).Select(_ => ScratchPool.Rent(10)).ToList();
        Assert.DoesNotContain(smaller, kept);
        Assert.Contains(large, kept);
        kept.ForEach(s => ScratchPool.Return(s));
        ScratchPool.Release();
    }

    [Fact]
    public void LargeBuffersOfConcurrentCalls_AreKeptWithinTheTotal()
    {
        // Every slot's call at once, each buffer over half the largest kept: no more than the total is kept after.
        ScratchPool.Release();
        long floats = (ScratchPool.MaxKeptBytes * 3 / 4) / sizeof(float);
        var taken = Enumerable.Range(0, ScratchPool.Slots).Select(_ => ScratchPool.Rent(floats)).ToList();
        taken.ForEach(s => ScratchPool.Return(s));
        long kept = ScratchPool.KeptBytes;
        Assert.InRange(kept, floats * sizeof(float), ScratchPool.MaxKeptTotalBytes);

        // The larger buffers are the ones kept, a lone caller's among them.
        var large = ScratchPool.Rent(2 * floats / 3);
        Assert.Contains(large, taken);
        ScratchPool.Return(large);
        Assert.Equal(kept, ScratchPool.KeptBytes);

        // A caller whose budget is larger keeps one buffer of that size, as before.
        ScratchPool.Release();
        var big = ScratchPool.Rent(2 * floats);
        ScratchPool.Return(big, budgetBytes: 2 * floats * sizeof(float));
        Assert.Equal(2 * floats * sizeof(float), ScratchPool.KeptBytes);
        ScratchPool.Release();
        Assert.Equal(0, ScratchPool.KeptBytes);
    }

    [Fact]
    public void ConcurrentCallsAllocateNothingOnceWarm()
    {
        // Two threads calling the fused loss at once, started together each time: the second took no kept buffer
        // and allocated its own (a 32-byte object, each call that overlapped another).
        // Warm means the pool has seen two calls at once. Calls started together need not overlap on a loaded host (a
        // thread descheduled past the barrier), so the warm-up holds two buffers of the call's size at once, as two
        // overlapping calls do, and gives both back: a pool that keeps one buffer fails as before.
        const int rows = 256, hidden = 64, classes = 8192, calls = 40;
        float[] h = Core.AllocationCalls.Fill(rows * hidden, 1), w = Core.AllocationCalls.Fill(classes * hidden, 2);
        int[] targets = [.. Enumerable.Range(0, rows).Select(n => (n * 37) % classes)];
        var oneThread = new CrossEntropyOptions { MaxDegreeOfParallelism = 1 };
        using var start = new Barrier(2);
        long[] bytes = new long[2];
        void Calls(int thread)
        {
            for (int i = 0; i < 20 + calls; i++)
            {
                start.SignalAndWait();
                long before = GC.GetAllocatedBytesForCurrentThread();
                LinearCrossEntropy.Loss(h, w, targets, oneThread);
                bytes[thread] += i < 20 ? 0 : GC.GetAllocatedBytesForCurrentThread() - before; // after 20 warm calls
            }
        }

        ScratchPool.Release();
        LinearCrossEntropy.Loss(h, w, targets, oneThread);
        long callFloats = ScratchPool.KeptBytes / sizeof(float);
        Assert.True(callFloats > 0, "a lone call kept no buffer");
        var first = ScratchPool.Rent(callFloats);
        var second = ScratchPool.Rent(callFloats);
        ScratchPool.Return(first);
        ScratchPool.Return(second);
        Assert.Equal(2 * callFloats * sizeof(float), ScratchPool.KeptBytes);
        var other = new Thread(() => Calls(1));
        other.Start();
        Calls(0);
        other.Join();
        ScratchPool.Release();
        Assert.Equal((0L, 0L), (bytes[0], bytes[1]));
    }
}
