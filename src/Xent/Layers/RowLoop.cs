using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Xent.Kernels;

namespace Xent.Layers;

/// <summary>
/// A loop over one row, written once over the core's lane operators: <see cref="Run"/> processes whole vectors
/// of the lane operators from <c>start</c> and returns where it stopped. The struct holds the loop's
/// spans and, for a reduction, its running result.
/// </summary>
internal interface IRowLoop
{
    int Run<TOps, TV>(int start)
        where TOps : IVectorOps<TV>
        where TV : struct;
}

/// <summary>Runs an <see cref="IRowLoop"/> at a <see cref="VectorWidth"/>: whole vectors, then the scalar lanes.</summary>
/// <remarks>
/// Only the machine's widest width (and the scalar lanes) is inlined into the caller; a narrower width, which only
/// an override runs (tests, <c>XENT_VECTOR_WIDTH</c>), is called out of line and compiled when first used. The JIT
/// folds the IsHardwareAccelerated checks, so a caller's compilation no longer carries four copies of each loop: a
/// training step's first call compiled LayerNorm's row loops at every width (the bits are the same either way).
/// </remarks>
internal static class RowLoop
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run<TLoop>(ref TLoop loop, VectorWidth width)
        where TLoop : IRowLoop, allows ref struct
    {
        int i = width switch
        {
            VectorWidth.V512 => Vector512.IsHardwareAccelerated
                ? loop.Run<Vector512Ops, Vector512<float>>(0)
                : OutOfLine<TLoop, Vector512Ops, Vector512<float>>(ref loop),
            VectorWidth.V256 => Vector256.IsHardwareAccelerated && !Vector512.IsHardwareAccelerated
                ? loop.Run<Vector256Ops, Vector256<float>>(0)
                : OutOfLine<TLoop, Vector256Ops, Vector256<float>>(ref loop),
            VectorWidth.V128 => Vector128.IsHardwareAccelerated && !Vector256.IsHardwareAccelerated
                ? loop.Run<Vector128Ops, Vector128<float>>(0)
                : OutOfLine<TLoop, Vector128Ops, Vector128<float>>(ref loop),
            _ => 0,
        };
        loop.Run<ScalarOps, float>(i);
    }

    // Straight to optimised code, as the kernels: the loop inlined here runs hot.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static int OutOfLine<TLoop, TOps, TV>(ref TLoop loop)
        where TLoop : IRowLoop, allows ref struct
        where TOps : IVectorOps<TV>
        where TV : struct => loop.Run<TOps, TV>(0);
}
