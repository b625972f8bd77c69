using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Xent.Kernels;

namespace Xent.LinearAlgebra;

/// <summary>
/// Tile and cache blocking of <see cref="MatMul.Gemm"/> for one vector width: <see cref="PanelKernels.Kernel"/>
/// computes a <see cref="PanelKernels.Mr"/> x <see cref="Nr"/> tile from packed micro-panels.
/// </summary>
/// <remarks>
/// The blocking follows the caches of a current x64 core (32-48 KB L1d, 0.5-2 MB of L2): the A block
/// (<see cref="Mc"/> x Kc, half the core's L2 at most: 480 KB at the largest Kc with 1 MB) and the B micro-panel in use
/// (Kc x Nr, up to 128 KB) stay in L2, the task's B panel (Kc x Nc) in L3. A K block as long as K's common sizes
/// (768 .. 1024) lets most products write each element of C once. None of these sizes changes a result (see <see cref="PanelKernels"/>).
/// </remarks>
internal readonly unsafe struct PanelShape
{
    /// <summary>Longest K block.</summary>
    public const int KcMax = 1024;

    /// <summary>Most rows of A in a block (<see cref="Mc"/>), reached with 1 MB of L2 or more.</summary>
    public const int McMax = 120;

    /// <summary>Largest K block of the whole of B (in floats, 16 MB) that a product packs once for all threads.</summary>
    public const long SharedPanelFloats = 4L << 20;

    // Tests set other block heights (every one gives the same bits).
    private static readonly AsyncOverride<int> McOverride = new();

    private static readonly int DefaultMc = McFor(CpuCaches.L2Bytes);

    private PanelShape(int nr, delegate*<int, float*, float*, float*, nint, bool, float, void> kernel,
        delegate*<int, float*, nint, nint, float*, float*, nint, bool, float, void> stridedKernel,
        delegate*<int, float*, nint, nint, float*, float*, nint, bool, float, float*, bool, bool, void> partKernel = null)
    {
        Mc = McOverride.Value ?? DefaultMc;
        Nr = nr;
        Kernel = kernel;
        StridedKernel = stridedKernel;
        PartKernel = partKernel;
    }

    /// <summary>Columns of C per tile: two vectors, four in <see cref="MatMul.Gemm"/>'s 512-bit tile (<see cref="For"/>).</summary>
    public int Nr { get; }

    /// <summary>M block: rows of A packed together and reused across the task's B panel (<see cref="McFor"/>).</summary>
    public int Mc { get; }

    /// <summary>N block: columns of the packed B panel of one task.</summary>
    public int Nc => 1024;

    /// <summary>The tile kernel: (kc, packed a, packed b, c, ldc, first K block, beta).</summary>
    public delegate*<int, float*, float*, float*, nint, bool, float, void> Kernel { get; }

    /// <summary>The tile kernel with A read in place: (kc, a, a row stride, a k stride, packed b, c, ldc, first K block, beta).</summary>
    public delegate*<int, float*, nint, nint, float*, float*, nint, bool, float, void> StridedKernel { get; }

    /// <summary>
    /// The strided kernel over part of a sum block, its sums kept in or resumed from a scratch tile (the 4-vector tile
    /// only; null otherwise): (kc, a, a row stride, a k stride, packed b, c, ldc, first K block, beta, sums, resume, keep).
    /// </summary>
    public delegate*<int, float*, nint, nint, float*, float*, nint, bool, float, float*, bool, bool, void> PartKernel { get; }

    /// <summary>
    /// The shape of <paramref name="width"/>. At 512 bits <paramref name="wide"/> picks the 6 x (4 vectors) tile, which
    /// reached 1.00-1.06x the share of the FMA limit of the 2-vector one in <see cref="MatMul.Gemm"/> (medians per
    /// product; each B load feeds twice the FMAs). The fused head's logits tiles take it in K parts of half a sum block
    /// (<see cref="PartKernel"/>: a B micro-panel part of 32 KB stays in L1 while W's strips pass it; a whole sum
    /// block's, 64 KB, made the head 1.13x slower); its dW and dh products keep the narrow tile, which they ran in
    /// about 0.9x and 0.8x the time of the wide one (docs/benchmarks.md, "Kept" and "Tried and dropped").
    /// </summary>
    public static PanelShape For(VectorWidth width, bool wide = true) => width switch
    {
        VectorWidth.V512 when wide => For512Wide(),
        VectorWidth.V512 => For512(),
        VectorWidth.V256 => For256(),
        VectorWidth.V128 => For128(),
        _ => ForScalar(),
    };

    // One method per width, as StatisticsKernel.Compute512: For itself names no generic instantiation, so its
    // compilation on a process's first product (unoptimised: its ReadyToRun code is rejected on a machine with
    // AVX-512, as any that asks about Vector512) no longer resolves the kernels of all four widths, only the one used.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static PanelShape For512Wide() => new(4 * Vector512<float>.Count, &PanelKernels.KernelWide<Vector512Ops, Vector512<float>>,
        &PanelKernels.KernelStridedWide<Vector512Ops, Vector512<float>>, &PanelKernels.KernelStridedWidePart<Vector512Ops, Vector512<float>>);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static PanelShape For512() => new(2 * Vector512<float>.Count, &PanelKernels.Kernel<Vector512Ops, Vector512<float>>,
        &PanelKernels.KernelStrided<Vector512Ops, Vector512<float>>);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static PanelShape For256() => new(2 * Vector256<float>.Count, &PanelKernels.Kernel<Vector256Ops, Vector256<float>>,
        &PanelKernels.KernelStrided<Vector256Ops, Vector256<float>>);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static PanelShape For128() => new(2 * Vector128<float>.Count, &PanelKernels.Kernel<Vector128Ops, Vector128<float>>,
        &PanelKernels.KernelStrided<Vector128Ops, Vector128<float>>);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static PanelShape ForScalar() => new(2, &PanelKernels.Kernel<ScalarOps, float>, &PanelKernels.KernelStrided<ScalarOps, float>);

    /// <summary>
    /// The rows of an A block on a core with <paramref name="l2Bytes"/> of L2: a whole number of strips whose block at
    /// the longest K block fills half of it at most (the other half holds the B micro-panel, C's tiles and what the
    /// hardware brings in ahead), <see cref="McMax"/> at most: 120 with 1 MB, 60 with 512 KB (Zen 2 and 3), 30 with
    /// 256 KB. A block filling the whole L2 lost about 4% of the FMA limit (docs/benchmarks.md, MatMul.Gemm).
    /// </summary>
    public static int McFor(long l2Bytes) =>
        (int)Math.Clamp(l2Bytes / 2 / (KcMax * sizeof(float)) / PanelKernels.Mr * PanelKernels.Mr, 4 * PanelKernels.Mr, McMax);

    /// <summary>Sets the A block's rows for the calling async flow until disposed (tests).</summary>
    public static AsyncOverride<int>.Scope OverrideMc(int rows) => McOverride.Set(rows);

    /// <summary>
    /// The K block for a product of depth <paramref name="k"/>: K split about evenly into blocks of at most
    /// <see cref="KcMax"/>, each a whole number of the kernel's <see cref="PanelKernels.SumBlock"/>s.
    /// </summary>
    public static int KcFor(int k)
    {
        int blocks = (k + KcMax - 1) / KcMax;
        return MatMul.RoundUp((k + blocks - 1) / blocks, PanelKernels.SumBlock);
    }
}
