using System.Diagnostics;
using System.Numerics;

namespace Xent.Distributed.MpiCheck;

/// <summary>A communicator that times its collectives and counts the bytes this rank puts into them (for the step measurements).</summary>
internal sealed class TimedCommunicator(ICommunicator inner) : ICommunicator
{
    public long Ticks { get; private set; }

    public long Bytes { get; private set; }

    public int Calls { get; private set; }

    public int Rank => inner.Rank;

    public int Size => inner.Size;

    public void Reset() => (Ticks, Bytes, Calls) = (0, 0, 0);

    public void AllReduce<T>(Span<T> buffer, ReduceOperation operation)
        where T : unmanaged, INumber<T>
    {
        long start = Stopwatch.GetTimestamp();
        inner.AllReduce(buffer, operation);
        Count(start, buffer.Length * Unsafe<T>());
    }

    public void AllGather<T>(ReadOnlySpan<T> send, Span<T> receive)
        where T : unmanaged
    {
        long start = Stopwatch.GetTimestamp();
        inner.AllGather(send, receive);
        Count(start, send.Length * Unsafe<T>());
    }

    public void Gather<T>(ReadOnlySpan<T> send, Span<T> receive, int root)
        where T : unmanaged
    {
        long start = Stopwatch.GetTimestamp();
        inner.Gather(send, receive, root);
        Count(start, send.Length * Unsafe<T>());
    }

    public void ReduceScatter<T>(ReadOnlySpan<T> send, Span<T> receive)
        where T : unmanaged, INumber<T>
    {
        long start = Stopwatch.GetTimestamp();
        inner.ReduceScatter(send, receive);
        Count(start, send.Length * Unsafe<T>());
    }

    public void Broadcast<T>(Span<T> buffer, int root)
        where T : unmanaged
    {
        long start = Stopwatch.GetTimestamp();
        inner.Broadcast(buffer, root);
        Count(start, buffer.Length * Unsafe<T>());
    }

    public void Barrier()
    {
        long start = Stopwatch.GetTimestamp();
        inner.Barrier();
        Count(start, 0);
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    public void Abort(int exitCode, string reason) => inner.Abort(exitCode, reason);

    public void Dispose() => inner.Dispose();

    private void Count(long start, long bytes)
    {
        Ticks += Stopwatch.GetTimestamp() - start;
        Bytes += bytes;
        Calls++;
    }

    private static unsafe long Unsafe<T>()
        where T : unmanaged => sizeof(T);
}
