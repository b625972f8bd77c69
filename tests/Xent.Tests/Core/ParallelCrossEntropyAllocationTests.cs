namespace Xent.Tests.Core;

/// <summary>
/// Cross-entropy calls on every core allocate nothing on the calling thread once warm: the rows dealt out to the
/// pool's workers, and few long rows split into block ranges (whose per-call arrays were garbage too). Alone in the
/// run (<see cref="WorkerPoolAllocationCollection"/>): a test holding the pool makes a call fall back to the runtime's.
/// </summary>
[Collection(nameof(WorkerPoolAllocationTests))]
public class ParallelCrossEntropyAllocationTests
{
    [Theory]
    [InlineData(64, 1024)] // rows dealt out
    [InlineData(2, 65536)] // rows split into block ranges (2 threads or more)
    public void AllocatesNothing(int rows, int classes)
    {
        var logits = AllocationCalls.Fill(rows * classes, 1);
        int[] targets = [.. Enumerable.Range(0, rows).Select(n => (n * 7919) % classes)];
        var gradient = new float[logits.Length];
        var halfLogits = logits.Select(x => (Half)x).ToArray();
        var halfGradient = new Half[logits.Length];
        var probabilities = AllocationCalls.Softmax(AllocationCalls.Fill(rows * classes, 2), classes);
        AllocationCalls.AssertAllocatesNothing(() => CrossEntropy.Loss(logits, targets), "Loss", attempts: 200);
        AllocationCalls.AssertAllocatesNothing(() => CrossEntropy.LossAndGradient(logits, targets, gradient), "LossAndGradient", attempts: 200);
        AllocationCalls.AssertAllocatesNothing(() => CrossEntropy.LossAndGradient(halfLogits, targets, halfGradient), "Half LossAndGradient", attempts: 200);
        AllocationCalls.AssertAllocatesNothing(() => CrossEntropy.LossAndGradient(logits, probabilities, classes, gradient), "Probabilities LossAndGradient", attempts: 200);
    }
}
