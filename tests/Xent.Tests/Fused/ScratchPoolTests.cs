using Xent.Fused;

namespace Xent.Tests.Fused;

/// <summary>The fused kernel's kept buffer: reused when big enough, replaced by a larger one, never kept when huge.</summary>
[Collection(nameof(ScratchPoolTests))]
public class ScratchPoolTests
{
    [Fact]
    public void KeepsOneBuffer_ReusesIt_AndFreesWhatIsTooLarge()
    {
        ScratchPool.Release();
        var a = ScratchPool.Rent(1000);
        ScratchPool.Return(a);
        var b = ScratchPool.Rent(500); // the kept one is big enough: the same buffer
        Assert.Same(a, b);
        var c = ScratchPool.Rent(2000); // taken: a fresh one
        Assert.NotSame(b, c);
        ScratchPool.Return(b);
        ScratchPool.Return(c); // the larger replaces the smaller, which is freed
        Assert.Same(c, ScratchPool.Rent(1500));
        ScratchPool.Return(c);

        long huge = (ScratchPool.MaxKeptBytes / sizeof(float)) + 1;
        var d = ScratchPool.Rent(huge); // the kept one is too small: freed, and a fresh one comes
        ScratchPool.Return(d); // too large to keep
        var e = ScratchPool.Rent(10);
        Assert.NotSame(d, e);
        Assert.NotSame(c, e);
        ScratchPool.Return(e);
        ScratchPool.Release();
    }
}

/// <summary>The pool is process-wide: its test runs with no other test running (a fused call would take the kept buffer).</summary>
[CollectionDefinition(nameof(ScratchPoolTests), DisableParallelization = true)]
public class ScratchPoolCollection
{
}
