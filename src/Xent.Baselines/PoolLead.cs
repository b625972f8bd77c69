using Xent.Kernels;

namespace Xent.Baselines;

/// <summary>
/// An untimed call to run right before a timed case that uses the pool's worker (a Xent call, a limit on more than one
/// thread), when what ran before it left the worker idle past its spin (about 50 us) and asleep: a limit on one thread,
/// FMA chains on threads of their own. Without it that case paid the worker's wake-up (tens of microseconds) and the
/// cases after another pool user did not. Never run it before a case on threads of its own: the worker it leaves
/// spinning would take a core from that case (on 2 cores, half the machine) and favour the pool users.
/// </summary>
public static class PoolLead
{
    // How long the caller's item waits for the worker to take the other: a wake-up takes tens of microseconds.
    private static readonly long WaitTicks = System.Diagnostics.Stopwatch.Frequency / 1000;

    /// <summary>One parallel call of an item per thread (-1: per core), each waiting (up to 1 ms) until every thread holds one.</summary>
    /// <param name="threads">The threads the next case runs on.</param>
    /// <returns>The lead.</returns>
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
