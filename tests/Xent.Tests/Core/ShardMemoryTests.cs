namespace Xent.Tests.Core;

/// <summary>What a shard's call allocates on the calling thread (the loop runs there): nothing that grows with its width.</summary>
public class ShardMemoryTests
{
    [Theory]
    [InlineData(0f)]
    [InlineData(30f)]
    public void ComputeAllocatesNothingPerCall(float softCap)
    {
        const int Rows = 8, Width = 20000, Classes = 3 * Width;
        var random = new Random(5);
        var shard = new float[Rows * Width];
        for (int i = 0; i < shard.Length; i++)
        {
            shard[i] = (8 * random.NextSingle()) - 4;
        }

        var targets = Enumerable.Range(0, Rows).Select(n => Width + n).ToArray();
        var states = new CrossEntropyShardState[Rows];
        var o = new CrossEntropyOptions { SoftCap = softCap };
        CrossEntropyShards.Compute(shard, Width, Classes, targets, states, o); // warm-up: JIT, the thread's workspace
        long before = GC.GetAllocatedBytesForCurrentThread();
        CrossEntropyShards.Compute(shard, Width, Classes, targets, states, o);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        // A block of capped logits would be 64 KB (min(width, 16384) floats).
        Assert.True(allocated < 1024, $"allocated {allocated} bytes");
    }
}
