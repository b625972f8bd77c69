using Xent.Kernels;

namespace Xent.Benchmarks;

/// <summary>
/// An untimed lead case for <see cref="Baselines.Timing.Interleaved"/>: put first in a round whose last cases run on
/// threads of their own (read limits), it leaves the pool's worker awake, as the case before it leaves it for every
/// other pool user of the round. Without it the round's first pool user paid the worker's wake-up alone.
/// </summary>
internal static class PoolLead
{
    // How long the caller's item waits for the worker to take the other: a wake-up takes tens of microseconds.
    private static readonly long WaitTicks = System.Diagnostics.Stopwatch.Frequency / 1000;

    /// <summary>One parallel call of an item per thread (-1: per core), each waiting (up to 1 ms) until every thread holds one.</summary>
    public static Action Wake(int threads) => () =>
    {
        int items = threads < 0 ? Environment.ProcessorCount : threads, arrived = 0;
        ParallelWork.For(items, threads, _ =>
        {
            Interlocked.Increment(ref arrived);
            long until = System.Diagnostics.Stopwatch.GetTimestamp() + WaitTicks;
            while (Volatile.Read(ref arrived) < items && System.Diagnostics.Stopwatch.GetTimestamp() < until)
            {
                Thread.SpinWait(8);
            }
        });
    };
}
