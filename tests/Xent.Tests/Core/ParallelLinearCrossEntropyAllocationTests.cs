namespace Xent.Tests.Core;

/// <summary>
/// Linear cross-entropy calls on every core allocate nothing once warm, on any thread: vocabulary groups dealt out, and
/// a small vocabulary's token blocks run in token lanes (whose runners and their array were per-call garbage). The
/// caller's bytes and those of the items the pool's workers run are counted, in calls where a worker ran an item (the
/// calling thread's alone missed what a worker's item allocated; every thread's, in calls whose items a sleeping worker
/// left all to the caller, too); alone in the run (<see cref="RunsAloneCollection"/>): a test holding the
/// pool makes a call fall back to the runtime's.
/// </summary>
[Collection(nameof(RunsAloneCollection))]
public class ParallelLinearCrossEntropyAllocationTests
{
    [Theory]
    [InlineData(512, 100)] // token lanes (one vocabulary group, four token blocks)
    [InlineData(16, 2000)] // vocabulary groups dealt out
    public void AllocatesNothing(int rows, int classes)
    {
        const int Hidden = 16;
        var hidden = AllocationCalls.Fill(rows * Hidden, 1);
        var weight = AllocationCalls.Fill(classes * Hidden, 2);
        int[] targets = [.. Enumerable.Range(0, rows).Select(n => (n * 7919) % classes)];
        float[] dHidden = new float[hidden.Length], dWeight = new float[weight.Length];
        Check(() => LinearCrossEntropy.Loss(hidden, weight, targets), "Loss");
        Check(() => LinearCrossEntropy.LossAndGradients(hidden, weight, targets, new(dHidden, dWeight)), "LossAndGradients");
    }

    private static void Check(Action call, string name) => AllocationCalls.AssertAllocatesNothing(call, name, attempts: 200, workers: true);
}
