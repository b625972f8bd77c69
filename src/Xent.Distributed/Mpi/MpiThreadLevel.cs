namespace Xent.Distributed.Mpi;

/// <summary>MPI's thread support levels (the values of Open MPI's MPI_THREAD_* constants).</summary>
public enum MpiThreadLevel
{
    /// <summary>One thread only.</summary>
    Single = 0,

    /// <summary>Only the thread that initialised MPI calls it.</summary>
    Funneled = 1,

    /// <summary>Any thread, one at a time (what Xent needs: .NET may resume a loop on another thread).</summary>
    Serialized = 2,

    /// <summary>Any thread, concurrently.</summary>
    Multiple = 3,
}
