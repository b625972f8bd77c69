namespace Xent.Kernels;

/// <summary>The work items of <see cref="ParallelWork.For{TBody}"/>: a struct, so that a call allocates no closure.</summary>
internal interface IWorkItems
{
    /// <summary>Runs one work item.</summary>
    void Run(int item);
}

/// <summary>The ranges of <see cref="ParallelWork.ForRanges{TBody}"/>: a struct, so that a call allocates no closure.</summary>
internal interface IWorkRanges
{
    /// <summary>Runs the items [start, end).</summary>
    void Run(int start, int end);
}

/// <summary>
/// The fork/join calls with a struct body instead of a lambda: the layers make a few hundred parallel calls a training
/// step and a few dozen a generated token, and each lambda's closure and delegate were garbage (6 KB a token of a
/// small model). The items are those of For's delegate overload, on the same threads: the results have the same bits.
/// </summary>
internal static partial class ParallelWork
{
    /// <summary>As <see cref="For(int, int, Action{int}, bool, bool)"/>, without allocating on the calling thread's next calls.</summary>
    public static void For<TBody>(int count, int maxDegreeOfParallelism, TBody body, bool inline = false, bool ends = false)
        where TBody : struct, IWorkItems
    {
        if (Observer is null && (inline || Threads(count, maxDegreeOfParallelism) <= 1))
        {
            for (int i = 0; i < count; i++)
            {
                body.Run(i);
            }

            return;
        }

        var runner = Runner<TBody>.Rent(body);
        try
        {
            For(count, maxDegreeOfParallelism, runner.Body, inline, ends);
        }
        finally
        {
            runner.Return();
        }
    }

    /// <summary>
    /// Calls body(start, end) for consecutive ranges of <paramref name="grain"/> items covering [0, count). With 2
    /// threads the caller takes ranges from the start and the worker from the end, so that layers over the same rows
    /// give each thread about the same rows call after call (its caches hold what it wrote).
    /// </summary>
    /// <param name="count">Items in all.</param>
    /// <param name="grain">Items per range (see <see cref="Grain"/>).</param>
    /// <param name="maxDegreeOfParallelism">Most threads; -1 for all cores. One thread gets [0, count) in one call.</param>
    /// <param name="body">One range: a struct, so that a call allocates no closure.</param>
    public static void ForRanges<TBody>(int count, int grain, int maxDegreeOfParallelism, TBody body)
        where TBody : struct, IWorkRanges
    {
        if (count <= 0)
        {
            return;
        }

        if (Threads(count, maxDegreeOfParallelism) <= 1)
        {
            body.Run(0, count);
            return;
        }

        For((count + grain - 1) / grain, maxDegreeOfParallelism, new Ranges<TBody>(body, grain, count), ends: Ends);
    }

    private readonly struct Ranges<TBody>(TBody body, int grain, int count) : IWorkItems
        where TBody : struct, IWorkRanges
    {
        private readonly TBody body = body;

        public void Run(int item) => body.Run(item * grain, Math.Min(count, (item + 1) * grain));
    }

    /// <summary>
    /// A body and its delegate, kept per thread for its next call: a call made while the thread's is in use (from inside
    /// an item) gets one of its own.
    /// </summary>
    private sealed class Runner<TBody>
        where TBody : struct, IWorkItems
    {
        [ThreadStatic]
        private static Runner<TBody>? spare;

        private TBody body;

        private Runner() => Body = Run;

        public Action<int> Body { get; }

        public static Runner<TBody> Rent(TBody body)
        {
            var runner = spare ?? new Runner<TBody>();
            spare = null;
            runner.body = body;
            return runner;
        }

        // The body may hold references (a model, its cache): they are not kept past the call.
        public void Return()
        {
            body = default;
            spare = this;
        }

        private void Run(int item) => body.Run(item);
    }
}
