using System.Numerics;

namespace Xent.Distributed.InProcess;

/// <summary>One rank's handle on an <see cref="InProcessGroup"/>.</summary>
internal sealed class InProcessCommunicator(InProcessGroup group, int rank) : ICommunicator
{
    public int Rank => rank;

    public int Size => group.Size;

    public void AllReduce<T>(Span<T> buffer, ReduceOperation operation)
        where T : unmanaged, INumber<T>
    {
        var result = new T[buffer.Length];
        group.Exchange<T>(rank, buffer, $"AllReduce ({operation})", all =>
        {
            SameLengths(all);
            Fold(all, 0, result, operation);
        });
        result.CopyTo(buffer);
    }

    public void AllGather<T>(ReadOnlySpan<T> send, Span<T> receive)
        where T : unmanaged
    {
        CheckLength(receive.Length, (long)send.Length * Size, nameof(receive));
        var result = new T[receive.Length];
        group.Exchange(rank, send, "AllGather", all =>
        {
            SameLengths(all);
            for (int r = 0; r < all.Length; r++)
            {
                all[r].CopyTo(result, r * all[r].Length);
            }
        });
        result.CopyTo(receive);
    }

    public void Gather<T>(ReadOnlySpan<T> send, Span<T> receive, int root)
        where T : unmanaged
    {
        ArgumentOutOfRangeException.ThrowIfNegative(root);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(root, Size);
        if (rank == root)
        {
            CheckLength(receive.Length, (long)send.Length * Size, nameof(receive));
        }

        var result = rank == root ? new T[receive.Length] : null;
        group.Exchange(rank, send, $"Gather (root {root})", all =>
        {
            SameLengths(all);
            if (result != null)
            {
                for (int r = 0; r < all.Length; r++)
                {
                    all[r].CopyTo(result, r * all[r].Length);
                }
            }
        });
        result?.CopyTo(receive);
    }

    public void ReduceScatter<T>(ReadOnlySpan<T> send, Span<T> receive)
        where T : unmanaged, INumber<T>
    {
        CheckLength(send.Length, (long)receive.Length * Size, nameof(send));
        var result = new T[receive.Length];
        group.Exchange(rank, send, "ReduceScatter", all =>
        {
            SameLengths(all);
            Fold(all, rank * result.Length, result, ReduceOperation.Sum);
        });
        result.CopyTo(receive);
    }

    public void Broadcast<T>(Span<T> buffer, int root)
        where T : unmanaged
    {
        ArgumentOutOfRangeException.ThrowIfNegative(root);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(root, Size);
        var result = new T[buffer.Length];
        group.Exchange<T>(rank, buffer, $"Broadcast (root {root})", all =>
        {
            SameLengths(all);
            all[root].CopyTo(result, 0);
        });
        result.CopyTo(buffer);
    }

    public void Barrier()
    {
        group.ThrowIfFailed();
        group.Wait();
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    public void Abort(int exitCode, string reason)
    {
        var e = new RankFailedException(rank, $"rank {rank} of {Size} aborted (exit code {exitCode}): {reason}");
        group.Fail(rank, e);
        throw e;
    }

    public void Dispose()
    {
    }

    // result[i] = all[0][offset + i] op all[1][offset + i] op ... in rank order: the same bits on every rank.
    private static void Fold<T>(T[][] all, int offset, T[] result, ReduceOperation operation)
        where T : unmanaged, INumber<T>
    {
        Array.Copy(all[0], offset, result, 0, result.Length);
        for (int r = 1; r < all.Length; r++)
        {
            var v = all[r].AsSpan(offset, result.Length);
            for (int i = 0; i < result.Length; i++)
            {
                // T.Max propagates NaN, as a merge of shard states does.
                result[i] = operation == ReduceOperation.Sum ? result[i] + v[i] : T.Max(result[i], v[i]);
            }
        }
    }

    private static void SameLengths<T>(T[][] all)
    {
        foreach (var values in all)
        {
            if (values.Length != all[0].Length)
            {
                throw new ArgumentException($"The ranks passed buffers of different lengths ({all[0].Length} and {values.Length}).");
            }
        }
    }

    private static void CheckLength(long actual, long expected, string name)
    {
        if (actual != expected)
        {
            throw new ArgumentException($"{name} has {actual} elements but K x L = {expected} are needed.", name);
        }
    }
}
