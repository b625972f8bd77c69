namespace Xent.Tests.Core;

/// <summary>Measuring a warm call's garbage on the calling thread, and the inputs and pointer calls of the allocation tests.</summary>
internal static unsafe class AllocationCalls
{
    /// <summary>Asserts that some warm call of <paramref name="call"/> allocates nothing on the calling thread (with <paramref name="anyThread"/>, on any thread).</summary>
    /// <param name="call">The call.</param>
    /// <param name="name">Its name, for the message.</param>
    /// <param name="attempts">Calls measured: the fewest bytes count (a stray allocation of the runtime, or a pool busy with another test, lands in one call, not all).</param>
    /// <param name="anyThread">Count every thread's bytes (the pool's workers included), not only the calling thread's: for tests alone in the run.</param>
    public static void AssertAllocatesNothing(Action call, string name, int attempts = 20, bool anyThread = false)
    {
        Func<long> allocated = anyThread ? static () => GC.GetTotalAllocatedBytes(precise: true) : GC.GetAllocatedBytesForCurrentThread;

        // Warm: tiered compilation, per-thread scratch, the pool's buffers.
        for (int i = 0; i < 50; i++)
        {
            call();
        }

        // On a loaded machine a pool worker not yet scheduled is still in the last job, and the next call makes one
        // (WorkerPoolAllocationTests): a pause after such a call lets it leave, so that the next attempt can count.
        long fewest = long.MaxValue;
        for (int i = 0; i < attempts && fewest > 0; i++)
        {
            long before = allocated();
            call();
            fewest = Math.Min(fewest, allocated() - before);
            if (fewest > 0)
            {
                Thread.Sleep(1);
            }
        }

        Assert.True(fewest == 0, $"{name}: {fewest} bytes a call{(anyThread ? " (all threads)" : "")}");
    }

    public static float[] Fill(int length, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() - 0.5))];
    }

    /// <summary>Each row of <paramref name="x"/> [N, V] replaced by its softmax: probability targets.</summary>
    public static float[] Softmax(float[] x, int classes)
    {
        var p = new float[x.Length];
        for (int at = 0; at < x.Length; at += classes)
        {
            double sum = 0;
            for (int c = 0; c < classes; c++)
            {
                sum += Math.Exp(x[at + c]);
            }

            for (int c = 0; c < classes; c++)
            {
                p[at + c] = (float)(Math.Exp(x[at + c]) / sum);
            }
        }

        return p;
    }

    public static float PointerLoss(float[] logits, int[] targets, CrossEntropyOptions options)
    {
        fixed (float* x = logits)
        {
            return CrossEntropy.Loss(x, logits.Length, targets, options);
        }
    }

    public static LossParts PointerLossWithParts(float[] logits, int[] targets, CrossEntropyOptions options)
    {
        fixed (float* x = logits)
        {
            return CrossEntropy.LossWithParts(x, logits.Length, targets, options);
        }
    }

    public static float PointerLossAndGradient(float[] logits, int[] targets, float[] gradient, CrossEntropyOptions options)
    {
        fixed (float* x = logits, g = gradient)
        {
            return CrossEntropy.LossAndGradient(x, logits.Length, targets, g, gradient.Length, options);
        }
    }
}
