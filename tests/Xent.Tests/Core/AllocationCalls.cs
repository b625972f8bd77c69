using Xent.Kernels;

namespace Xent.Tests.Core;

/// <summary>Measuring a warm call's garbage on the calling thread, and the inputs and pointer calls of the allocation tests.</summary>
internal static unsafe class AllocationCalls
{
    /// <summary>
    /// Asserts that some warm call of <paramref name="call"/> allocates nothing on the calling thread (with
    /// <paramref name="workers"/>, nor on the pool's workers, in a call where they ran items).
    /// </summary>
    /// <param name="call">The call.</param>
    /// <param name="name">Its name, for the message.</param>
    /// <param name="attempts">Calls measured (with <paramref name="workers"/>, of those a worker took part in): the fewest bytes count (a stray allocation of the runtime, or a pool busy with another test, lands in one call, not all).</param>
    /// <param name="workers">
    /// Count the bytes of the items the pool's workers run too (<see cref="WorkerPool.CountWorkerBytes"/>), and only
    /// calls in which a worker ran an item: for tests alone in the run, on 2 cores or more.
    /// </param>
    public static void AssertAllocatesNothing(Action call, string name, int attempts = 20, bool workers = false)
    {
        // Warm: tiered compilation, per-thread scratch, the pool's buffers.
        for (int i = 0; i < 50; i++)
        {
            call();
        }

        // A call whose items all ran on the caller (a worker asleep, or not scheduled in time) says nothing of the
        // workers: it does not count, and none counting fails, where counting every thread's bytes passed a worker
        // allocating in every item. Calls are retried for up to 30 s (on a loaded machine a worker missed 200 calls
        // in a row). One core has no worker: the caller runs every item.
        bool needWorker = workers && Environment.ProcessorCount > 1;
        var elapsed = System.Diagnostics.Stopwatch.StartNew();
        WorkerPool.CountWorkerBytes = workers;
        try
        {
            long fewest = long.MaxValue;
            int counted = 0, missed = 0;
            while (counted < attempts && fewest > 0 && elapsed.Elapsed < TimeSpan.FromSeconds(30))
            {
                long items = WorkerPool.WorkerItems, workerBytes = WorkerPool.WorkerBytes, before = GC.GetAllocatedBytesForCurrentThread();
                call();
                long callerBytes = GC.GetAllocatedBytesForCurrentThread() - before;
                if (needWorker && WorkerPool.WorkerItems == items)
                {
                    missed++;
                    continue;
                }

                counted++;
                fewest = Math.Min(fewest, callerBytes + (WorkerPool.WorkerBytes - workerBytes));

                // On a loaded machine a pool worker not yet scheduled is still in the last job, and the next call makes
                // one (WorkerPoolAllocationTests): a pause after such a call lets it leave, so that the next attempt can count.
                if (callerBytes > 0)
                {
                    Thread.Sleep(1);
                }
            }

            Assert.True(counted > 0, $"{name}: no worker ran an item in {missed} calls");
            Assert.True(fewest == 0, $"{name}: {fewest} bytes a call, the fewest of {counted} calls{(workers ? $" (caller and workers; {missed} more ran no item on a worker)" : "")}");
        }
        finally
        {
            WorkerPool.CountWorkerBytes = false;
        }
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
