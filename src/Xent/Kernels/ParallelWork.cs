using System.Runtime.ExceptionServices;

namespace Xent.Kernels;

/// <summary>
/// The one fork/join helper of the kernels, the matrix products and the model's layers: a fixed number of work
/// items, each run exactly once, inline or on up to a given number of threads. Every caller's items do
/// independent work and any reduction inside an item runs in a fixed order, so the items (never the thread count)
/// decide the arithmetic and results are bitwise the same for any number of threads. Parallel calls run on
/// <see cref="WorkerPool"/>'s persistent threads (the caller takes part), which cost far less to wake than a
/// Parallel.For over the runtime's thread pool: the model's layers make a few hundred small parallel calls a step.
/// </summary>
internal static partial class ParallelWork
{
    /// <summary>
    /// Runs body(0 .. count - 1), on the calling thread when there is one item, one thread allowed, or
    /// <paramref name="inline"/> (the caller's judgement that the work is too small to pay for waking workers).
    /// </summary>
    /// <param name="count">Work items.</param>
    /// <param name="maxDegreeOfParallelism">Most threads; -1 for all cores.</param>
    /// <param name="body">One work item.</param>
    /// <param name="inline">Run on the calling thread whatever the other arguments say.</param>
    /// <param name="ends">The caller takes items from the first on, the workers from the last down (see <see cref="WorkerPool.TryRun"/>).</param>
    public static void For(int count, int maxDegreeOfParallelism, Action<int> body, bool inline = false, bool ends = false)
    {
        if (Observer is { } observer)
        {
            Observed(observer, count, maxDegreeOfParallelism, body, inline, ends);
            return;
        }

        int threads = inline ? 1 : Threads(count, maxDegreeOfParallelism);
        if (threads <= 1)
        {
            for (int i = 0; i < count; i++)
            {
                body(i);
            }

            return;
        }

        try
        {
            if (!WorkerPool.TryRun(count, threads, body, ends))
            {
                // Nested inside a pool item, or another caller holds the pool: the runtime's pool.
                Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism }, body);
            }
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            // An item's exception reaches the caller as itself, as it does when the items run inline: its type must not
            // depend on the thread count or on whether the pool was free. With several, the first one recorded.
            ExceptionDispatchInfo.Throw(e.InnerExceptions[0]);
        }
    }

    // The threads a call of count items may use: one on a one-core machine even where -1 asked for all cores (a
    // Parallel.For there allocated about 1.6 KB a training step and ran no faster).
    private static int Threads(int count, int maxDegreeOfParallelism) =>
        Math.Min(count, maxDegreeOfParallelism < 0 ? Environment.ProcessorCount : maxDegreeOfParallelism);

    // Whether ForRanges deals its ranges from both ends; cleared only by benchmarks (XENT_AB=noends), to time the plain order.
    internal static bool Ends { get; set; } = Environment.GetEnvironmentVariable("XENT_AB") != "noends";

    /// <summary>
    /// Measurement only (bench/ step-phases): sees every call, which runs the body it returns (null: no cost but a
    /// static read). Calls made while the observer is running one are run as they come.
    /// </summary>
    internal static IObserver? Observer { get; set; }

    /// <summary>Benchmarks' view of the parallel calls.</summary>
    internal interface IObserver
    {
        /// <summary>A call of count items begins; parallel is false when it runs inline. Returns the body to run.</summary>
        Action<int> Begin(int count, bool parallel, Action<int> body);

        /// <summary>The call has ended.</summary>
        void End();
    }

    private static void Observed(IObserver observer, int count, int maxDegreeOfParallelism, Action<int> body, bool inline, bool ends)
    {
        bool parallel = !inline && Threads(count, maxDegreeOfParallelism) > 1;
        var observed = observer.Begin(count, parallel, body);
        Observer = null;
        try
        {
            For(count, maxDegreeOfParallelism, observed, inline, ends);
        }
        finally
        {
            Observer = observer;
            observer.End();
        }
    }

    /// <summary>
    /// A range size splitting <paramref name="count"/> items into about 16 ranges (at least
    /// <paramref name="minimum"/> items each, rounded up to a multiple of 16 so vector loops see the same
    /// element groups). It depends on the count only, never on the machine or the thread count.
    /// </summary>
    public static int Grain(int count, int minimum = 1)
    {
        int grain = Math.Max(minimum, (count + 15) / 16);
        return (grain + 15) & ~15;
    }
}
