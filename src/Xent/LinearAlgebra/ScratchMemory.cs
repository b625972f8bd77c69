using System.Runtime.InteropServices;

namespace Xent.LinearAlgebra;

/// <summary>
/// Native scratch memory for <see cref="Workspace"/> and the fused kernel's <see cref="Fused.ScratchPool"/>: 64-byte
/// aligned, and from <see cref="HugePageBytes"/> on 2 MB aligned with transparent huge pages asked for (Linux
/// madvise(MADV_HUGEPAGE); where the kernel's setting is "madvise", its default, nothing else gets them). A buffer's
/// first touch then faults once per 2 MB instead of once per 4 KB page: on the Zen 5 VM of docs/benchmarks.md a fresh
/// 9.4 MB buffer (a GEMM's packed B) took 3.5-4.5 ms of CPU to touch in 4 KB pages and 0.5-0.7 ms in huge pages, which
/// was a large part of a process's first call. Contents are undefined; nothing here changes a result.
/// </summary>
internal static unsafe class ScratchMemory
{
    /// <summary>Buffers from this size on are 2 MB aligned and asked for huge pages.</summary>
    public const long HugePageBytes = 1L << 20;

    private const nuint HugePage = 2 << 20;

    private const int MadviseHugePage = 14;

    private static readonly delegate* unmanaged<void*, nuint, int, int> Madvise = FindMadvise();

    /// <summary>At least <paramref name="bytes"/> bytes; free with <see cref="Free"/>.</summary>
    public static void* Allocate(long bytes)
    {
        if (bytes < HugePageBytes)
        {
            return NativeMemory.AlignedAlloc((nuint)bytes, 64);
        }

        nuint size = ((nuint)bytes + HugePage - 1) & ~(HugePage - 1);
        void* p = NativeMemory.AlignedAlloc(size, HugePage);
        if (Madvise != null)
        {
            _ = Madvise(p, size, MadviseHugePage); // only advice: a failure leaves 4 KB pages
        }

        return p;
    }

    /// <summary>Frees memory from <see cref="Allocate"/> (null is allowed).</summary>
    public static void Free(void* p) => NativeMemory.AlignedFree(p);

    private static delegate* unmanaged<void*, nuint, int, int> FindMadvise() =>
        OperatingSystem.IsLinux() && NativeLibrary.TryGetExport(NativeLibrary.GetMainProgramHandle(), "madvise", out nint address)
            ? (delegate* unmanaged<void*, nuint, int, int>)address
            : null;
}
