using Xent.Optim;
using Xent.Tests.Core;

namespace Xent.Tests.Optim;

/// <summary>
/// AdamW on every core allocates nothing once warm, on any thread: Update's chunks of a large tensor (its Parallel.For,
/// a closure, a delegate, options and the runtime's own objects, was garbage on every call) and Step's items. The
/// caller's bytes and those of the items the pool's workers run are counted, in calls where a worker ran an item (the
/// calling thread's alone missed what a worker's item allocated; every thread's, in calls whose items a sleeping worker
/// left all to the caller, too); alone in the run (<see cref="RunsAloneCollection"/>): a test holding the
/// pool makes a call fall back to the runtime's.
/// </summary>
[Collection(nameof(RunsAloneCollection))]
public class ParallelAdamWAllocationTests
{
    // Three of Update's chunks (65,536 elements each) and a tail.
    private const int Length = (3 << 16) + 5;

    private static readonly AdamWOptions AllCores = new() { LearningRate = 0.01f, WeightDecay = 0.1f };

    [Fact]
    public void UpdateAllocatesNothing()
    {
        float[] p = AllocationCalls.Fill(Length, 1), g = AllocationCalls.Fill(Length, 2), m = new float[Length], v = new float[Length];
        AllocationCalls.AssertAllocatesNothing(() => AdamW.Update(p, g, m, v, 1, 0.01f, AllCores), "Update", attempts: 200, workers: true);
    }

    [Fact]
    public void StepAllocatesNothing()
    {
        int[] lengths = [Length, 64, 4_096 + 3];
        float[][] p = [.. lengths.Select((n, i) => AllocationCalls.Fill(n, i))], g = [.. lengths.Select((n, i) => AllocationCalls.Fill(n, 10 + i))];
        var adam = new AdamW(AllCores, lengths);
        AllocationCalls.AssertAllocatesNothing(() => adam.Step(p, g), "Step", attempts: 200, workers: true);
    }
}
