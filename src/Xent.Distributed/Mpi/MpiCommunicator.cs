using System.Numerics;

namespace Xent.Distributed.Mpi;

/// <summary>
/// MPI_COMM_WORLD of Open MPI: one rank per process started by mpirun. There is one per process
/// (<see cref="World"/>); disposing it calls MPI_Finalize, after which MPI cannot be used again in the process.
/// Errors of MPI calls are returned (MPI_ERRORS_RETURN), not fatal, and become <see cref="MpiException"/>s.
/// </summary>
public sealed unsafe class MpiCommunicator : ICommunicator
{
    // Below Open MPI's int count limit, so that a long buffer goes in pieces.
    private const int MaxCount = 1 << 30;

    private static readonly Lock Gate = new();
    private static MpiCommunicator? world;

    private readonly MpiLibrary mpi;
    private bool finalized;

    private MpiCommunicator(MpiThreadLevel level)
    {
        mpi = MpiLibrary.Instance;
        int initialized = 0, provided = 0;
        mpi.Check(mpi.Initialized(&initialized), "MPI_Initialized");
        if (initialized == 0)
        {
            mpi.Check(mpi.InitThread(null, null, (int)level, &provided), "MPI_Init_thread");
            if (provided < (int)level)
            {
                throw new MpiException($"MPI_Init_thread gave thread level {(MpiThreadLevel)provided}, below the {level} asked for.");
            }
        }

        ThreadLevel = (MpiThreadLevel)provided;
        mpi.Check(mpi.CommSetErrhandler(mpi.CommWorld, mpi.ErrorsReturn), "MPI_Comm_set_errhandler");
        int rank, size;
        mpi.Check(mpi.CommRank(mpi.CommWorld, &rank), "MPI_Comm_rank");
        mpi.Check(mpi.CommSize(mpi.CommWorld, &size), "MPI_Comm_size");
        Rank = rank;
        Size = size;
    }

    /// <inheritdoc/>
    public int Rank { get; }

    /// <inheritdoc/>
    public int Size { get; }

    /// <summary>The thread level MPI provided.</summary>
    public MpiThreadLevel ThreadLevel { get; }

    /// <summary>
    /// The process's MPI_COMM_WORLD, initialising MPI on first use (at <paramref name="level"/>). Only call this
    /// under mpirun (<see cref="Communicator.UnderMpirun"/>): it loads libmpi.
    /// </summary>
    /// <param name="level">The thread level to ask for; the call fails when MPI provides less.</param>
    public static MpiCommunicator World(MpiThreadLevel level = MpiThreadLevel.Serialized)
    {
        lock (Gate)
        {
            if (world is { finalized: true })
            {
                throw new InvalidOperationException("MPI was finalized (the world communicator was disposed); it cannot start again in this process.");
            }

            return world ??= new MpiCommunicator(level);
        }
    }

    /// <inheritdoc/>
    public void AllReduce<T>(Span<T> buffer, ReduceOperation operation)
        where T : unmanaged, INumber<T>
    {
        var type = NumericType<T>();
        var op = operation == ReduceOperation.Sum ? mpi.Sum : mpi.Max;
        fixed (T* p = buffer)
        {
            for (int i = 0; i < buffer.Length; i += MaxCount)
            {
                int count = Math.Min(MaxCount, buffer.Length - i);
                mpi.Check(mpi.Allreduce(MpiLibrary.InPlace, p + i, count, type, op, mpi.CommWorld), "MPI_Allreduce");
            }
        }
    }

    /// <inheritdoc/>
    public void AllGather<T>(ReadOnlySpan<T> send, Span<T> receive)
        where T : unmanaged
    {
        CheckLength(receive.Length, (long)send.Length * Size, nameof(receive));
        int count = ByteCount<T>(send.Length);
        fixed (T* s = send, r = receive)
        {
            mpi.Check(mpi.Allgather(s, count, mpi.Byte, r, count, mpi.Byte, mpi.CommWorld), "MPI_Allgather");
        }
    }

    /// <inheritdoc/>
    public void Gather<T>(ReadOnlySpan<T> send, Span<T> receive, int root)
        where T : unmanaged
    {
        ArgumentOutOfRangeException.ThrowIfNegative(root);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(root, Size);
        if (Rank == root)
        {
            CheckLength(receive.Length, (long)send.Length * Size, nameof(receive));
        }

        int count = ByteCount<T>(send.Length);
        fixed (T* s = send, r = receive)
        {
            mpi.Check(mpi.GatherCall(s, count, mpi.Byte, r, count, mpi.Byte, root, mpi.CommWorld), "MPI_Gather");
        }
    }

    /// <inheritdoc/>
    public void ReduceScatter<T>(ReadOnlySpan<T> send, Span<T> receive)
        where T : unmanaged, INumber<T>
    {
        CheckLength(send.Length, (long)receive.Length * Size, nameof(send));
        var type = NumericType<T>();
        fixed (T* s = send, r = receive)
        {
            mpi.Check(mpi.ReduceScatterBlock(s, r, receive.Length, type, mpi.Sum, mpi.CommWorld), "MPI_Reduce_scatter_block");
        }
    }

    /// <inheritdoc/>
    public void Broadcast<T>(Span<T> buffer, int root)
        where T : unmanaged
    {
        ArgumentOutOfRangeException.ThrowIfNegative(root);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(root, Size);
        fixed (T* p = buffer)
        {
            var bytes = (byte*)p;
            long total = (long)buffer.Length * sizeof(T);
            for (long i = 0; i < total; i += MaxCount)
            {
                int count = (int)Math.Min(MaxCount, total - i);
                mpi.Check(mpi.Bcast(bytes + i, count, mpi.Byte, root, mpi.CommWorld), "MPI_Bcast");
            }
        }
    }

    /// <inheritdoc/>
    public void Barrier() => mpi.Check(mpi.BarrierCall(mpi.CommWorld), "MPI_Barrier");

    /// <inheritdoc/>
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    public void Abort(int exitCode, string reason)
    {
        Console.Error.WriteLine(reason);
        Console.Error.Flush();
        mpi.AbortCall(mpi.CommWorld, exitCode);

        // MPI_Abort does not return; should an implementation return anyway, the process still must not go on.
        Environment.Exit(exitCode);
    }

    /// <summary>Calls MPI_Finalize (once every rank has called it, the job may end).</summary>
    public void Dispose()
    {
        lock (Gate)
        {
            if (finalized)
            {
                return;
            }

            finalized = true;
            int done = 0;
            mpi.Check(mpi.Finalized(&done), "MPI_Finalized");
            if (done == 0)
            {
                mpi.Check(mpi.Finalize(), "MPI_Finalize");
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

    private static int ByteCount<T>(int length)
        where T : unmanaged
    {
        long bytes = (long)length * sizeof(T);
        return bytes <= int.MaxValue ? (int)bytes : throw new ArgumentException($"A block of {bytes} bytes is more than one MPI call moves (2^31 - 1).");
    }

    private nint NumericType<T>()
        where T : unmanaged =>
        typeof(T) == typeof(float) ? mpi.Float
        : typeof(T) == typeof(double) ? mpi.Double
        : typeof(T) == typeof(int) ? mpi.Int
        : typeof(T) == typeof(long) ? mpi.Long
        : throw new NotSupportedException($"MPI reductions of {typeof(T).Name} are not supported: use float, double, int or long.");
}
