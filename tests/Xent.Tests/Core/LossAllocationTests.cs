namespace Xent.Tests.Core;

/// <summary>
/// The loss entry points' garbage on the calling thread once warm (one thread, so that every item runs there): a
/// training loop calls them every step. Both allocate nothing: CrossEntropy's kernel object and request were 280 bytes
/// a call (every overload: <see cref="CrossEntropyAllocationTests"/>), LinearCrossEntropy's 616 (every overload:
/// <see cref="LinearCrossEntropyAllocationTests"/>); each parallel call's lambda added 64-96 bytes more.
/// </summary>
public class LossAllocationTests
{
    private const int Rows = 8, Classes = 96, Hidden = 32;

    private const long CrossEntropyBound = 0, LinearBound = 0;

    private static readonly CrossEntropyOptions OneThread = new() { MaxDegreeOfParallelism = 1 };

    // Made once: the implicit conversion from CrossEntropyOptions makes one a call.
    private static readonly LinearCrossEntropyOptions LinearOneThread = OneThread;

    private static readonly float[] Logits = Fill(Rows * Classes, 1), HiddenStates = Fill(Rows * Hidden, 2), Weight = Fill(Classes * Hidden, 3);

    private static readonly int[] Targets = [.. Enumerable.Range(0, Rows).Select(n => (n * 37) % Classes)];

    [Fact]
    public void CrossEntropyLossAllocatesNothing() =>
        AssertAllocatesAtMost(CrossEntropyBound, () => CrossEntropy.Loss(Logits, Targets, OneThread));

    [Fact]
    public void CrossEntropyLossAndGradientAllocatesNothing()
    {
        var gradient = new float[Logits.Length];
        AssertAllocatesAtMost(CrossEntropyBound, () => CrossEntropy.LossAndGradient(Logits, Targets, gradient, OneThread));
    }

    [Fact]
    public void LinearCrossEntropyLossAllocatesNothing() =>
        AssertAllocatesAtMost(LinearBound, () => LinearCrossEntropy.Loss(HiddenStates, Weight, Targets, OneThread));

    [Fact]
    public void LinearCrossEntropyLossAndGradientsAllocatesNothing()
    {
        float[] dHidden = new float[HiddenStates.Length], dWeight = new float[Weight.Length];
        AssertAllocatesAtMost(LinearBound, () => LinearCrossEntropy.LossAndGradients(HiddenStates, Weight, Targets, new LinearCrossEntropyGradients(dHidden, dWeight), LinearOneThread));
    }

    private static void AssertAllocatesAtMost(long bound, Func<float> call)
    {
        // Warm: tiered compilation, per-thread scratch, the pool's buffers.
        for (int i = 0; i < 50; i++)
        {
            call();
        }

        // The fewest bytes of several calls: a stray allocation of the runtime lands in one call, not all.
        long fewest = long.MaxValue;
        for (int i = 0; i < 20; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            call();
            fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.True(fewest <= bound, $"{fewest} bytes a call");
    }

    private static float[] Fill(int length, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() - 0.5))];
    }
}
