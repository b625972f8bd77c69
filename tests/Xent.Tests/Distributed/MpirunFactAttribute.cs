namespace Xent.Tests.Distributed;

/// <summary>A fact that runs only where Open MPI's mpirun is on PATH; shows as skipped, with the reason, elsewhere.</summary>
public sealed class MpirunFactAttribute : FactAttribute
{
    public MpirunFactAttribute()
    {
        if (Mpirun.Path == null)
        {
            Skip = "mpirun is not on PATH: install Open MPI (apt-get install openmpi-bin libopenmpi-dev) to run the MPI tests";
        }
    }
}
