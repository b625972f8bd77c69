namespace Xent.Tests.Core;

/// <summary>
/// Cross-entropy calls on every core allocate nothing once warm, on any thread: the rows dealt out to the pool's
/// workers, and few long rows split into block ranges (whose per-call arrays were garbage too). The caller's bytes and
/// those of the items the pool's workers run are counted, in calls where a worker ran an item (the calling thread's
/// alone missed what a worker's item allocated; every thread's, in calls whose items a sleeping worker left all to the
/// caller, too); alone in the run (<see cref="RunsAloneCollection"/>): a test holding the pool makes a call
/// fall back to the runtime's.
/// </summary>
[Collection(nameof(RunsAloneCollection))]
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
        Check(() => CrossEntropy.Loss(logits, targets), "Loss");
        Check(() => CrossEntropy.LossAndGradient(logits, targets, gradient), "LossAndGradient");
        Check(() => CrossEntropy.LossAndGradient(halfLogits, targets, halfGradient), "Half LossAndGradient");
        Check(() => CrossEntropy.LossAndGradient(logits, probabilities, classes, gradient), "Probabilities LossAndGradient");
    }

    private static void Check(Action call, string name) => AllocationCalls.AssertAllocatesNothing(call, name, attempts: 200, workers: true);
}
