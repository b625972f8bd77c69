using System.Runtime.InteropServices;

namespace Xent.Distributed.Mpi;

/// <summary>
/// The thin binding to Open MPI's libmpi: the few functions Xent calls, and Open MPI's predefined handles (the
/// addresses of its global objects, such as <c>ompi_mpi_comm_world</c>), all resolved from the loaded library.
/// Loaded only when first used, that is only under mpirun, so that a machine without MPI never needs it.
/// </summary>
/// <remarks>
/// libmpi is opened with RTLD_GLOBAL, as mpi4py does: Open MPI's plug-ins (loaded by MPI_Init) look up libmpi's
/// symbols in the global namespace, which a plain NativeLibrary.Load (RTLD_LOCAL) would hide.
/// </remarks>
internal sealed unsafe class MpiLibrary
{
    private const int RtldNow = 2;
    private const int RtldGlobal = 0x100;
    private const int MaxErrorString = 256;

    private static readonly string[] Names = ["libmpi.so.40", "libmpi.so"];
    private static readonly Lazy<MpiLibrary> Shared = new(() => new MpiLibrary());

    private readonly nint handle;

    private MpiLibrary()
    {
        foreach (var name in Names)
        {
            handle = OpenGlobal(name);
            if (handle != 0)
            {
                break;
            }
        }

        if (handle == 0)
        {
            throw new MpiException($"Could not load Open MPI's library ({string.Join(" or ", Names)}): install openmpi-bin and libopenmpi-dev (Debian/Ubuntu), or run without mpirun.");
        }

        CommWorld = Export("ompi_mpi_comm_world");
        Float = Export("ompi_mpi_float");
        Double = Export("ompi_mpi_double");
        Int = Export("ompi_mpi_int");
        Long = Export("ompi_mpi_long_long_int");
        Byte = Export("ompi_mpi_byte");
        Sum = Export("ompi_mpi_op_sum");
        Max = Export("ompi_mpi_op_max");
        ErrorsReturn = Export("ompi_mpi_errors_return");
        InitThread = (delegate* unmanaged<int*, nint*, int, int*, int>)Export("MPI_Init_thread");
        Initialized = (delegate* unmanaged<int*, int>)Export("MPI_Initialized");
        Finalized = (delegate* unmanaged<int*, int>)Export("MPI_Finalized");
        Finalize = (delegate* unmanaged<int>)Export("MPI_Finalize");
        CommRank = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_rank");
        CommSize = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_size");
        CommSetErrhandler = (delegate* unmanaged<nint, nint, int>)Export("MPI_Comm_set_errhandler");
        Allreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, int>)Export("MPI_Allreduce");
        Allgather = (delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int>)Export("MPI_Allgather");
        GatherCall = (delegate* unmanaged<void*, int, nint, void*, int, nint, int, nint, int>)Export("MPI_Gather");
        ReduceScatterBlock = (delegate* unmanaged<void*, void*, int, nint, nint, nint, int>)Export("MPI_Reduce_scatter_block");
        Bcast = (delegate* unmanaged<void*, int, nint, int, nint, int>)Export("MPI_Bcast");
        BarrierCall = (delegate* unmanaged<nint, int>)Export("MPI_Barrier");
        AbortCall = (delegate* unmanaged<nint, int, int>)Export("MPI_Abort");
        ErrorString = (delegate* unmanaged<int, byte*, int*, int>)Export("MPI_Error_string");
    }

    /// <summary>The library, loaded on first use.</summary>
    public static MpiLibrary Instance => Shared.Value;

    /// <summary>MPI_IN_PLACE in Open MPI.</summary>
    public static void* InPlace => (void*)1;

    public nint CommWorld { get; }

    public nint Float { get; }

    public nint Double { get; }

    public nint Int { get; }

    public nint Long { get; }

    public nint Byte { get; }

    public nint Sum { get; }

    public nint Max { get; }

    public nint ErrorsReturn { get; }

    public delegate* unmanaged<int*, nint*, int, int*, int> InitThread { get; }

    public delegate* unmanaged<int*, int> Initialized { get; }

    public delegate* unmanaged<int*, int> Finalized { get; }

    public delegate* unmanaged<int> Finalize { get; }

    public delegate* unmanaged<nint, int*, int> CommRank { get; }

    public delegate* unmanaged<nint, int*, int> CommSize { get; }

    public delegate* unmanaged<nint, nint, int> CommSetErrhandler { get; }

    public delegate* unmanaged<void*, void*, int, nint, nint, nint, int> Allreduce { get; }

    public delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int> Allgather { get; }

    public delegate* unmanaged<void*, int, nint, void*, int, nint, int, nint, int> GatherCall { get; }

    public delegate* unmanaged<void*, void*, int, nint, nint, nint, int> ReduceScatterBlock { get; }

    public delegate* unmanaged<void*, int, nint, int, nint, int> Bcast { get; }

    public delegate* unmanaged<nint, int> BarrierCall { get; }

    public delegate* unmanaged<nint, int, int> AbortCall { get; }

    public delegate* unmanaged<int, byte*, int*, int> ErrorString { get; }

    /// <summary>Throws <see cref="MpiException"/> with MPI's error string unless <paramref name="code"/> is MPI_SUCCESS.</summary>
    public void Check(int code, string function)
    {
        if (code == 0)
        {
            return;
        }

        var text = stackalloc byte[MaxErrorString + 1];
        int length = 0;
        string message = ErrorString(code, text, &length) == 0
            ? System.Text.Encoding.UTF8.GetString(text, Math.Clamp(length, 0, MaxErrorString))
            : "(no error string)";
        throw new MpiException(function, code, message);
    }

    private static nint OpenGlobal(string name)
    {
        try
        {
            return DlOpen(name, RtldNow | RtldGlobal);
        }
        catch (DllNotFoundException)
        {
            return DlOpenLegacy(name, RtldNow | RtldGlobal);
        }
        catch (EntryPointNotFoundException)
        {
            return DlOpenLegacy(name, RtldNow | RtldGlobal);
        }
    }

    private nint Export(string symbol) =>
        NativeLibrary.TryGetExport(handle, symbol, out var address)
            ? address
            : throw new MpiException($"libmpi has no symbol {symbol}: Xent's MPI binding needs Open MPI (4.x or 5.x).");

    // glibc 2.34+ has dlopen in libc; older ones in libdl.
    [DllImport("libc.so.6", EntryPoint = "dlopen", CharSet = CharSet.Ansi, BestFitMapping = false)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern nint DlOpen(string file, int mode);

    [DllImport("libdl.so.2", EntryPoint = "dlopen", CharSet = CharSet.Ansi, BestFitMapping = false)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern nint DlOpenLegacy(string file, int mode);
}
