using System.Runtime.CompilerServices;

namespace Xent.LinearAlgebra;

/// <content>
/// One task of the general drivers: A packed Mc rows at a time, each block swept across the packed B panel.
/// </content>
public static unsafe partial class MatMul
{
    // Whether Rows reads A in place for at most InPlacePanels B micro-panels; cleared only by the gemm-ab benchmark
    // (XENT_AB=rowsinplace), to time the packed copy.
    internal static bool RowsInPlaceA { get; set; } = true;

    private const int InPlacePanels = 4;

    // Micro-panels of B at the end of each A block (stored [K, M]) whose tiles prefetch the next block's source rows
    // (see Rows); 0 turns it off. Set only by the gemm-ab benchmark otherwise (XENT_AB=packpf).
    internal static int PackPrefetchPanels { get; set; } = 4;

    // Whether RunSharedB tells Rows which rows to prefetch after its last A block; cleared only by the gemm-ab benchmark
    // (XENT_AB=hint), to time Rows' own guess (the same rows in the next K block).
    internal static bool PackPrefetchHint { get; set; } = true;

    // Whether Rows' tiles prefetch the next tile's rows of C; cleared only by the gemm-ab benchmark (XENT_AB=rowsc).
    internal static bool RowsPrefetchC { get; set; } = true;

    /// <summary>
    /// C[i0 .. i0 + rows, j0 .. j0 + cols] over the K block [p0, p0 + kc), B's block packed at pb: A packed Mc rows at a
    /// time, each A block swept across every B micro-panel (which stays in L2 while the block's tiles use it).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows(in PanelShape s, in Problem p, int i0, int rows, int j0, int cols, int p0, int kc, float* pb,
        int nextI0 = -1, int nextRows = 0, int nextP0 = 0)
    {
        const int mr = PanelKernels.Mr;
        int nr = s.Nr, mc = s.Mc;

        // A read in place (alpha = 1) where a packed copy would serve only a few B micro-panels (the small models'
        // products with N = 64): packing moved about as much as the tiles then read. A stored [K, M] ('tn': a strip is 6
        // values in each of kc rows of A) with rows a multiple of 1 KB apart only in K blocks of one sum block: deeper,
        // those rows share a few L1 sets (256 x 64 x 2048 'tn' on one thread, K blocks of 1024: 1.04-1.06x the packed
        // time; on two, split by sum blocks: 0.89-0.91x). Measured: docs/benchmarks.md (MatMul.Gemm).
        bool inPlace = RowsInPlaceA && p.Alpha == 1 && (cols + nr - 1) / nr <= InPlacePanels
            && (!p.TransposeA || kc <= PanelKernels.SumBlock || p.Lda % 256 != 0);
        nint ars = p.TransposeA ? 1 : p.Lda, aks = p.TransposeA ? p.Lda : 1;

        // In place, only a block's partial last strip is packed (once, with zero rows below), here.
        float* pa = Workspace.Current.Get(WorkspaceSlot.PackedA, (long)(inPlace ? mr : RoundUp(Math.Min(mc, rows), mr)) * kc);

        // The first K block starts C (beta = 0: C is not read); later ones add their sums to it.
        bool first = p0 == 0;
        // Blocks of at most Mc rows, as even as whole strips allow: a short last block would stream every B micro-panel
        // from L3 for one or two tiles.
        int strips = (rows + mr - 1) / mr;
        int blocks = (rows + mc - 1) / mc;
        for (int block = 0; block < blocks; block++)
        {
            int ib = (int)((long)block * strips / blocks) * mr;
            int mRows = Math.Min(rows, (int)((long)(block + 1) * strips / blocks) * mr) - ib;
            int fullRows = inPlace ? mRows / mr * mr : 0;
            if (!inPlace)
            {
                PanelPacking.PackA(p.TransposeA, p.A, p.Lda, i0 + ib, mRows, p0, kc, p.Alpha, pa);
            }
            else if (fullRows < mRows)
            {
                PanelPacking.PackA(p.TransposeA, p.A, p.Lda, i0 + ib + fullRows, mRows - fullRows, p0, kc, p.Alpha, pa);
            }

            // A stored [K, M]: the next block's source (the next rows here; after the last block, the caller's next rows
            // nextI0 .. + nextRows from K row nextP0 when given, else these rows' first block in the next K block) is a few lines in each of kc rows a row of A apart, which the hardware prefetchers do not follow, so
            // the tiles of the last PackPrefetchPanels micro-panels ask for its rows, a share each (earlier, B's
            // micro-panels streaming through L2 would evict them before the packing reads them).
            float* next = null;
            int nextK = 0, nextCount = 0, perTile = 0, pfFrom = int.MaxValue;
            if (p.TransposeA && PackPrefetchPanels > 0)
            {
                int np0 = block + 1 < blocks ? p0 : p0 + kc;
                int nib = block + 1 < blocks ? Math.Min(rows, (int)((long)(block + 1) * strips / blocks) * mr) : 0;
                nextK = np0 < p.K ? Math.Min(kc, p.K - np0) : 0;
                nextCount = Math.Min(rows, (int)((long)((block + 1 < blocks ? block + 1 : 0) + 1) * strips / blocks) * mr) - nib;
                next = p.A + ((nint)np0 * p.Lda) + i0 + nib;
                if (block + 1 == blocks && nextI0 >= 0)
                {
                    // The caller's next rows: their first block (split as above).
                    int nStrips = (nextRows + mr - 1) / mr, nBlocks = (nextRows + mc - 1) / mc;
                    nextK = nextP0 < p.K ? Math.Min(kc, p.K - nextP0) : 0;
                    nextCount = Math.Min(nextRows, nStrips / nBlocks * mr);
                    next = p.A + ((nint)nextP0 * p.Lda) + nextI0;
                }

                int panels = (cols + nr - 1) / nr, window = Math.Min(panels, PackPrefetchPanels);
                pfFrom = (panels - window) * nr;
                int tiles = window * ((mRows + mr - 1) / mr);
                perTile = (nextK + tiles - 1) / tiles;
            }

            int pfRow = 0;
            for (int jr = 0; jr < cols; jr += nr)
            {
                float* bs = pb + ((nint)jr * kc);
                for (int ir = 0; ir < mRows; ir += mr)
                {
                    if (jr >= pfFrom)
                    {
                        PrefetchRows(next, p.Lda, pfRow, Math.Min(nextK, pfRow + perTile), nextCount);

                        pfRow += perTile;
                    }

                    if (RowsPrefetchC && (!first || p.Beta != 0))
                    {
                        // The next tile's rows of C where the kernel reads them (the next strip, else the block's first
                        // in the next micro-panel): C, read and written once per K block, is far larger than L2 in the
                        // products that come here (gemm-ab, Zen 5, 512 bits: 0.96-0.97x the time on one thread and
                        // 0.97-0.99x on two at 2304 x 768 x 2048 'tn', 3072 x 768 x 8192 'tn', 2048 x 768 x 3072 'nn';
                        // where C is only written, 2048 x 50257 x 768 'nt' took 1.02x, so not there).
                        int nir = ir + mr < mRows ? ir + mr : 0, njr = ir + mr < mRows ? jr : jr + nr;
                        if (njr < cols)
                        {
                            float* nc = p.C + ((i0 + ib + nir) * p.Ldc) + j0 + njr;
                            PrefetchRows(nc, p.Ldc, 0, Math.Min(mr, mRows - nir), Math.Min(nr, cols - njr));
                        }
                    }

                    float* ci = p.C + ((i0 + ib + ir) * p.Ldc) + j0 + jr;
                    if (ir < fullRows)
                    {
                        StridedTile(s, Math.Min(nr, cols - jr), kc, p.A + ((i0 + ib + ir) * ars) + (p0 * aks), ars, aks, bs, ci, p.Ldc, first, p.Beta);
                    }
                    else
                    {
                        Tile(s, Math.Min(mr, mRows - ir), Math.Min(nr, cols - jr), kc, pa + ((nint)(inPlace ? 0 : ir) * kc), bs, ci, p.Ldc, first, p.Beta);
                    }
                }
            }
        }
    }
}
