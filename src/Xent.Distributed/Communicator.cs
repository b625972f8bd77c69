using Xent.Distributed.InProcess;
using Xent.Distributed.Mpi;

namespace Xent.Distributed;

/// <summary>Where a program finds its communicator: MPI's world under mpirun, otherwise a group of one.</summary>
public static class Communicator
{
    /// <summary>
    /// Whether this process was started by Open MPI's mpirun (or a launcher speaking PMIx to it): the variables it
    /// sets, OMPI_COMM_WORLD_SIZE or PMIX_RANK, are present.
    /// </summary>
    public static bool UnderMpirun =>
        Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") != null || Environment.GetEnvironmentVariable("PMIX_RANK") != null;

    /// <summary>
    /// This process's rank as mpirun announced it (OMPI_COMM_WORLD_RANK or PMIX_RANK), read without loading MPI:
    /// before the first collective, for example to report bad input once; 0 when not under mpirun.
    /// </summary>
    public static int LaunchRank =>
        int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_RANK") ?? Environment.GetEnvironmentVariable("PMIX_RANK"),
            System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int rank) ? rank : 0;

    /// <summary>
    /// The world: <see cref="MpiCommunicator.World"/> under mpirun; otherwise rank 0 of 1, without loading MPI (so a
    /// machine without MPI runs everything as one process). Dispose it at the end of the program.
    /// </summary>
    public static ICommunicator World() => UnderMpirun ? MpiCommunicator.World() : new InProcessGroup(1).Communicator(0);
}
