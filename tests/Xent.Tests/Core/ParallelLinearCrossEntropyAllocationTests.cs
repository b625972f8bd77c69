namespace Xent.Tests.Core;

/// <summary>
/// Linear cross-entropy calls on every core allocate nothing on the calling thread once warm: vocabulary groups dealt
/// out, and a small vocabulary's token blocks run in token lanes (whose runners and their array were per-call garbage).
/// Alone in the run (<see cref="WorkerPoolAllocationCollection"/>): a test holding the pool makes a call fall back to the
/// runtime's.
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
        AllocationCalls.AssertAllocatesNothing(() => LinearCrossEntropy.Loss(hidden, weight, targets), "Loss", attempts: 200);
        AllocationCalls.AssertAllocatesNothing(() => LinearCrossEntropy.LossAndGradients(hidden, weight, targets, new(dHidden, dWeight)), "LossAndGradients",
            attempts: 200);
    }
}
