namespace Xent.Tests.Core;

/// <summary>
/// Linear cross-entropy calls on every core allocate nothing once warm, on any thread: vocabulary groups dealt out,
/// and a small vocabulary's token blocks run in token lanes (whose runners and their array were per-call garbage).
/// Every thread's bytes are counted, the pool's workers too (the calling thread's alone missed what an item run by a
/// worker allocated); alone in the run (<see cref="WorkerPoolAllocationCollection"/>): a test holding the pool makes a
/// call fall back to the runtime's.
/// </summary>
[Collection(nameof(WorkerPoolAllocationTests))]
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

    private static void Check(Action call, string name) => AllocationCalls.AssertAllocatesNothing(call, name, attempts: 200, anyThread: true);
}
