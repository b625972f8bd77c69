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
internal static class RowLoop
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run<TLoop>(ref TLoop loop, VectorWidth width)
        where TLoop : IRowLoop, allows ref struct
    {
        int i = width switch
        {
            VectorWidth.V512 => loop.Run<Vector512Ops, Vector512<float>>(0),
            VectorWidth.V256 => loop.Run<Vector256Ops, Vector256<float>>(0),
            VectorWidth.V128 => loop.Run<Vector128Ops, Vector128<float>>(0),
            _ => 0,
        };
        loop.Run<ScalarOps, float>(i);
    }
}
