namespace Xent.Kernels;

/// <summary>
/// Persistent worker threads for <see cref="ParallelWork.For"/>: the caller publishes a job (items claimed one by
/// one from a shared counter), wakes up to threads - 1 workers and runs items itself until none is left, then waits
/// for the items still running. A worker spins briefly after a job (the next parallel call of a layer usually comes
/// within microseconds) and then sleeps on a semaphore, so an idle process takes no core. One job at a time: a
/// call made while the pool is busy (another caller, or a call nested inside an item) returns false and the caller
/// falls back. Which thread runs an item never changes its arithmetic.
/// </summary>
internal static partial class WorkerPool
{
    // How long a worker polls for the next job before sleeping.
    private static readonly long IdleTicks = System.Diagnostics.Stopwatch.Frequency / 20000;

    private static readonly SemaphoreSlim Wake = new(0);
    private static readonly object Gate = new();
    private static Job? current;

    // The last job, for the next call (only the pool's holder touches it), and the workers that may hold a job they
    // read from current: between that read and the end of their Join.
    private static Job? spare;
    private static int joining;
    private static int busy;
    private static int generation;
    private static int sleepers;
    private static int workers;

    private static long sleeps;

    [ThreadStatic]
    private static bool isWorker;

    /// <summary>How many times a worker has gone to sleep (benchmarks: wake-ups cost far more than a spinning worker's start).</summary>
    internal static long Sleeps => Volatile.Read(ref sleeps);

    /// <summary>
    /// Runs body(0 .. count - 1) on the caller and up to threads - 1 workers; false when the pool is busy. With
    /// <paramref name="ends"/> the caller claims items from the first on and the workers from the last down, so with
    /// 2 threads the caller runs a first stretch of the items and the worker the rest, the same stretches call after
    /// call when the items take equal time (per-row layers: the rows a thread wrote stay in its caches for the next
    /// layer); otherwise items go in order to whichever thread asks first.
    /// </summary>
    public static bool TryRun(int count, int threads, Action<int> body, bool ends = false)
    {
        if (isWorker || Interlocked.CompareExchange(ref busy, 1, 0) != 0)
        {
            return false;
        }

        try
        {
            int helpers = Math.Min(threads - 1, Environment.ProcessorCount - 1);
            if (helpers <= 0)
            {
                for (int i = 0; i < count; i++)
                {
                    body(i);
                }

                return true;
            }

            EnsureWorkers(helpers);
            // A worker late for an earlier job only ever touches that job's counters: the last one is reused only when no
            // worker could still hold it (it was garbage, about 430 bytes, on every parallel call of a layer).
            var job = spare ?? new Job();
            spare = null;
            job.Reset(body, count, helpers, ExecutionContext.Capture(), ends);
            Volatile.Write(ref current, job);
            Interlocked.Increment(ref generation);
            int asleep = Volatile.Read(ref sleepers);
            if (asleep > 0)
            {
                Wake.Release(Math.Min(asleep, helpers));
            }

            job.RunItems(front: true);
            job.WaitDone();
            job.Clear();

            // Dekker with the workers: they count themselves joining, then read current; the exchange fences ours.
            Interlocked.Exchange(ref current, null);
            var error = job.Error;
            if (Volatile.Read(ref joining) == 0)
            {
                job.Reset(null, 0, 0, null, false);
                spare = job;
            }

            if (error is not null)
            {
                throw new AggregateException(error);
            }

            return true;
        }
        finally
        {
            Volatile.Write(ref busy, 0);
        }
    }

    private static void EnsureWorkers(int helpers)
    {
        if (Volatile.Read(ref workers) >= helpers)
        {
            return;
        }

        lock (Gate)
        {
            // The generation before the caller's job is published: a worker that starts after it (thread start takes
            // longer than a small job) still joins that job, instead of taking it for an old one and waiting for the
            // next, which left a 2-thread process's first call to the caller alone.
            int before = Volatile.Read(ref generation);
            while (workers < helpers)
            {
                var thread = new Thread(() => WorkerLoop(before)) { IsBackground = true, Name = $"Xent worker {workers + 1}" };
                thread.Start();
                workers++;
            }
        }
    }

    private static void WorkerLoop(int seen)
    {
        isWorker = true;
        while (true)
        {
            int now = Volatile.Read(ref generation);
            long until = System.Diagnostics.Stopwatch.GetTimestamp() + IdleTicks;
            while (now == seen && System.Diagnostics.Stopwatch.GetTimestamp() < until)
            {
                Thread.SpinWait(8);
                now = Volatile.Read(ref generation);
            }

            while (now == seen)
            {
                // Dekker with the caller: it bumps the generation then reads sleepers; we count ourselves asleep then
                // read the generation. Interlocked fences both, so a job is never missed; a spare release only
                // wakes us for a look.
                Interlocked.Increment(ref sleepers);
                now = Volatile.Read(ref generation);
                if (now == seen)
                {
                    Interlocked.Increment(ref sleeps);
                    Wake.Wait();
                    now = Volatile.Read(ref generation);
                }

                Interlocked.Decrement(ref sleepers);
            }

            seen = now;
            Interlocked.Increment(ref joining);
            Volatile.Read(ref current)?.Join();
            Interlocked.Decrement(ref joining);
        }
    }

    private sealed class Job
    {
        // The claim counter and the count of finished items on cache lines of their own: each thread claims items from
        // the first and adds to the second once per job (adding per item, both counters on one line with the job's
        // other fields, moved that line between the cores twice an item).
        private Counters counters;
        private Exception? error;
        private Action<int>? body;
        private int count;
        private ExecutionContext? context;
        private bool ends;

        public Exception? Error => Volatile.Read(ref error);

        /// <summary>Sets a job no thread holds (published after, with a fence); a null body drops the last call's.</summary>
        public void Reset(Action<int>? body, int count, int seats, ExecutionContext? context, bool ends)
        {
            this.body = body;
            this.count = count;
            this.context = context;
            this.ends = ends;
            error = null;
            counters = new() { Seats = seats };
        }

        /// <summary>Closes the job to late workers.</summary>
        public void Clear() => Volatile.Write(ref counters.Seats, 0);

        /// <summary>A worker takes part if a seat is left (the job may already be finished: then it finds no item).</summary>
        public void Join()
        {
            if (Interlocked.Decrement(ref counters.Seats) < 0 || Taken(Volatile.Read(ref counters.Claimed)) >= count)
            {
                return;
            }

            if (context is { } flow)
            {
                ExecutionContext.Run(flow, static state => ((Job)state!).RunItems(front: false), this);
            }
            else
            {
                RunItems(front: false);
            }
        }

        public void RunItems(bool front)
        {
            int i, ran = 0;
            long before = !front && CountWorkerBytes ? GC.GetAllocatedBytesForCurrentThread() : -1;
            front |= !ends;
            while ((i = front ? ClaimFront() : ClaimBack()) >= 0)
            {
                try
                {
                    body!(i);
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref error, e, null);
                }

                ran++;
            }

            if (ran > 0)
            {
                if (before >= 0)
                {
                    Counted(before, ran);
                }

                Interlocked.Add(ref counters.Done, ran);
            }
        }

        /// <summary>Waits for the items other threads still run (the caller has none left): spins and yields, never sleeps.</summary>
        public void WaitDone()
        {
            var wait = default(SpinWait);
            while (Volatile.Read(ref counters.Done) < count)
            {
                wait.SpinOnce(sleep1Threshold: -1);
            }
        }

        // Claimed: items taken from the front in the low 32 bits, from the back in the high 32 bits.
        private static long Taken(long claimed) => (int)claimed + (claimed >>> 32);

        private int ClaimFront()
        {
            if (!ends)
            {
                // Only the front: one atomic add (the high half stays 0 below count).
                long taken = Interlocked.Increment(ref counters.Claimed) - 1;
                return taken < count ? (int)taken : -1;
            }

            while (true)
            {
                long claimed = Volatile.Read(ref counters.Claimed);
                if (Taken(claimed) >= count)
                {
                    return -1;
                }

                if (Interlocked.CompareExchange(ref counters.Claimed, claimed + 1, claimed) == claimed)
                {
                    return (int)claimed;
                }
            }
        }

        private int ClaimBack()
        {
            while (true)
            {
                long claimed = Volatile.Read(ref counters.Claimed);
                if (Taken(claimed) >= count)
                {
                    return -1;
                }

                if (Interlocked.CompareExchange(ref counters.Claimed, claimed + (1L << 32), claimed) == claimed)
                {
                    return count - 1 - (int)(claimed >>> 32);
                }
            }
        }
    }

    /// <summary>A job's shared counters, 128 bytes apart (a line and its adjacent-line prefetch pair).</summary>
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Explicit, Size = 384)]
    private struct Counters
    {
        [System.Runtime.InteropServices.FieldOffset(128)]
        public long Claimed;

        [System.Runtime.InteropServices.FieldOffset(256)]
        public int Done;

        [System.Runtime.InteropServices.FieldOffset(0)]
        public int Seats;
    }
}
