using System.Runtime.ExceptionServices;

namespace Xent.Distributed.InProcess;

/// <summary>
/// K ranks as K threads of one process, meeting at a shared rendezvous: what the tests and a one-machine run without
/// MPI use. Reductions fold the ranks' values in rank order 0, 1, ..., K-1 on every rank, so results are bitwise the
/// same on every rank and from run to run.
/// </summary>
public sealed class InProcessGroup
{
    private readonly Barrier barrier;
    private readonly Array?[] slots;
    private readonly string?[] calls;
    private readonly CancellationTokenSource failed = new();
    private readonly CancellationTokenSource departed = new();
    private readonly CancellationTokenSource failedOrDeparted;
    private readonly Lock gate = new();
    private RankFailedException? failure;
    private int? departedRank;

    /// <summary>A group of <paramref name="size"/> ranks; <see cref="Communicator"/> gives each rank its handle.</summary>
    /// <param name="size">K &gt;= 1.</param>
    public InProcessGroup(int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        Size = size;
        barrier = new Barrier(size);
        slots = new Array?[size];
        calls = new string?[size];
        failedOrDeparted = CancellationTokenSource.CreateLinkedTokenSource(failed.Token, departed.Token);
    }

    /// <summary>K.</summary>
    public int Size { get; }

    /// <summary>
    /// Runs <paramref name="body"/> on K threads, one per rank, and waits for all. If any rank throws, the others'
    /// collectives throw <see cref="RankFailedException"/>, and this rethrows the first rank's own exception.
    /// </summary>
    /// <param name="size">K.</param>
    /// <param name="body">The program of one rank.</param>
    public static void Run(int size, Action<ICommunicator> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var group = new InProcessGroup(size);
        var errors = new Exception?[size];
        var threads = new Thread[size];
        for (int r = 0; r < size; r++)
        {
            int rank = r;
            threads[r] = new Thread(() =>
            {
                try
                {
                    using var communicator = group.Communicator(rank);
                    body(communicator);
                    group.Depart(rank);
                }
                catch (Exception e)
                {
                    errors[rank] = e;
                    group.Fail(rank, e);
                }
            })
            { Name = $"rank {rank}", IsBackground = true };
            threads[r].Start();
        }

        foreach (var t in threads)
        {
            t.Join();
        }

        var first = group.failure;
        if (first != null)
        {
            var own = first.Rank >= 0 ? errors[first.Rank] : null;
            ExceptionDispatchInfo.Capture(own is null or RankFailedException ? first : own).Throw();
        }
    }

    /// <summary>The communicator of rank <paramref name="rank"/> (each rank's thread uses its own).</summary>
    /// <param name="rank">0 .. K-1.</param>
    public ICommunicator Communicator(int rank)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rank, Size);
        return new InProcessCommunicator(this, rank);
    }

    /// <summary>Marks the group failed by <paramref name="rank"/>: every waiting or later collective throws.</summary>
    internal void Fail(int rank, Exception cause)
    {
        lock (gate)
        {
            failure ??= cause as RankFailedException
                ?? new RankFailedException(rank, $"rank {rank} of {Size} failed: {cause.GetType().Name}: {cause.Message}", cause);
        }

        failed.Cancel();
    }

    /// <summary>
    /// Rank <paramref name="rank"/> has ended its program: a rank that waits in a collective now, or later, would wait
    /// forever (under MPI too), so its collective throws instead.
    /// </summary>
    internal void Depart(int rank)
    {
        lock (gate)
        {
            departedRank ??= rank;
        }

        departed.Cancel();
    }

    /// <summary>
    /// One collective: each rank deposits its values, waits for all, runs <paramref name="read"/> over every rank's
    /// deposit (in rank order), and waits again so that no deposit is replaced before everyone has read it.
    /// <paramref name="call"/> names the collective and the arguments that must agree (its root, its operation).
    /// </summary>
    internal void Exchange<T>(int rank, ReadOnlySpan<T> contribution, string call, Action<T[][]> read)
        where T : unmanaged
    {
        slots[rank] = contribution.ToArray();
        calls[rank] = call;
        Wait();
        SameCalls();
        var all = new T[Size][];
        for (int r = 0; r < Size; r++)
        {
            // A rank in a barrier has no slot (each is cleared after its exchange), one in another exchange may have
            // another element type: a clear error, not a NullReferenceException, an InvalidCastException, or an
            // earlier collective's values.
            all[r] = slots[r] as T[] ?? throw new InvalidOperationException(
                $"rank {r} of {Size} is not in a collective of {typeof(T).Name} values with rank {rank}: the ranks did not make the same collective calls.");
        }

        read(all);
        Wait();
        slots[rank] = null;
        calls[rank] = null;
    }

    // Every rank compares every rank's call with rank 0's, so all throw the same exception: an ArgumentException
    // where only the arguments differ (a broadcast's root, an all-reduce's operation), as MPI would silently use each
    // rank's own.
    private void SameCalls()
    {
        for (int r = 1; r < Size; r++)
        {
            string? first = calls[0], other = calls[r];
            if (first != other && first != null && other != null)
            {
                string message = $"rank 0 called {first}, rank {r} {other}: the ranks did not make the same collective calls.";
                throw Kind(first) == Kind(other) ? new ArgumentException(message) : new InvalidOperationException(message);
            }
        }

        static string Kind(string call) => call.Split(' ')[0];
    }

    internal void Wait()
    {
        try
        {
            barrier.SignalAndWait(failedOrDeparted.Token);
        }
        catch (OperationCanceledException)
        {
            ThrowIfFailed();
            throw new RankFailedException(departedRank ?? -1,
                $"rank {departedRank} of {Size} ended its program while another rank waited in a collective: the ranks did not make the same collective calls.");
        }
    }

    internal void ThrowIfFailed()
    {
        if (failed.IsCancellationRequested)
        {
            throw failure!;
        }
    }
}
