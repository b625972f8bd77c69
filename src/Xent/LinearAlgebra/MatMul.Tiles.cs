using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace Xent.LinearAlgebra;

/// <content>The tiles every path runs, full or zero-padded at the edges, and the prefetch they share.</content>
public static unsafe partial class MatMul
{
    // Asks for the cache lines of x[0 .. count) (a no-op where the instruction set has no prefetch).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Prefetch(float* x, int count)
    {
        if (!Sse.IsSupported)
        {
            return;
        }

        for (nint line = (nint)x & ~(nint)63; line <= (nint)(x + count - 1); line += 64)
        {
            Sse.Prefetch0((void*)line);
        }
    }

    // Prefetch of count values in each of the rows [from, to) of a matrix at x with row stride ld.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchRows(float* x, nint ld, int from, int to, int count)
    {
        for (int r = from; r < to; r++)
        {
            Prefetch(x + (r * ld), count);
        }
    }

    /// <summary>
    /// One tile of C [rows, cols] from packed, zero-padded micro-panels. A full tile goes straight to the kernel; an edge
    /// tile runs the same kernel on a full-size copy of its part of C, so an element's arithmetic never depends on
    /// the tile it falls in.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile(in PanelShape s, int rows, int cols, int kc, float* a, float* b, float* c, nint ldc, bool first, float beta)
    {
        const int mr = PanelKernels.Mr;
        int nr = s.Nr;
        if (rows == mr && cols == nr)
        {
            s.Kernel(kc, a, b, c, ldc, first, beta);
            return;
        }

        float* tile = EdgeTile(c, ldc, rows, cols, nr, first, beta);
        s.Kernel(kc, a, b, tile, nr, first, beta);
        StoreEdgeTile(tile, c, ldc, rows, cols, nr);
    }

    /// <summary>
    /// A full-size scratch tile for a partial one: where the kernel adds to C (not the first K block, or beta != 0),
    /// C's rows x cols part copied in, zeros around it.
    /// </summary>
    private static float* EdgeTile(float* c, nint ldc, int rows, int cols, int nr, bool first, float beta)
    {
        float* tile = Workspace.Current.Get(WorkspaceSlot.EdgeTile, (long)PanelKernels.Mr * nr);
        if (!first || beta != 0)
        {
            new Span<float>(tile, PanelKernels.Mr * nr).Clear();
            for (int i = 0; i < rows; i++)
            {
                new ReadOnlySpan<float>(c + (i * ldc), cols).CopyTo(new Span<float>(tile + (i * nr), cols));
            }
        }

        return tile;
    }

    /// <summary>The rows x cols part of an <see cref="EdgeTile"/> back into C.</summary>
    private static void StoreEdgeTile(float* tile, float* c, nint ldc, int rows, int cols, int nr)
    {
        for (int i = 0; i < rows; i++)
        {
            new ReadOnlySpan<float>(tile + (i * nr), cols).CopyTo(new Span<float>(c + (i * ldc), cols));
        }
    }

    /// <summary>
    /// <see cref="Tile"/> for a full row strip of A read in place (6 rows lda apart, k contiguous): the same kernel and
    /// sums as on a packed strip; fewer than Nr columns run on a full-size copy of their part of C.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void StridedTile(in PanelShape s, int cols, int kc, float* a, nint ars, nint aks, float* b, float* c, nint ldc, bool first, float beta)
    {
        const int mr = PanelKernels.Mr;
        int nr = s.Nr;
        if (cols == nr)
        {
            s.StridedKernel(kc, a, ars, aks, b, c, ldc, first, beta);
            return;
        }

        float* tile = EdgeTile(c, ldc, mr, cols, nr, first, beta);
        s.StridedKernel(kc, a, ars, aks, b, tile, nr, first, beta);
        StoreEdgeTile(tile, c, ldc, mr, cols, nr);
    }
}
