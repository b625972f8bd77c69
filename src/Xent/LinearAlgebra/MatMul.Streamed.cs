using System.Runtime.Intrinsics;
using Xent.Kernels;

namespace Xent.LinearAlgebra;

/// <content>
/// Few rows with B stored [K, N] (the dX products at N = 256 and 512, the MLP's dW): op(A) packed first, then each task
/// packs B one micro-panel at a time just before its tiles run.
/// </content>
public static unsafe partial class MatMul
{
    // RunStreamedB takes products of at most SwapRows rows, runs them in row blocks of at most StreamBlockRows (a K
    // block of packed A, 256 k, stays in L2), packs op(A) at most StreamChunkFloats at a time (4 MB) and gives each
    // thread at least StreamPanels B micro-panels. At 512 bits it once took up to 768 rows (768 x 3072 x 2048 'tn' in
    // 0.90-0.96x RunSharedB's time on a Zen 5); on a Zen 4, whose 512-bit FMA runs as two 256-bit halves (gemm-ab,
    // 2026-12-03, 1 and 2 threads, 15 interleaved rounds), such products took 1.05-1.13x (512 and 768 x 3072 x 2048
    // 'tn', 512 x 2304 x 768 'nn'), 1.00x (768 x 768 x 3072 'nn') and 0.97-0.98x only with K = 256, while up to 256
    // rows it stays 0.73-1.01x. The narrower widths always stopped at 256 rows; 512 bits now does too, which costs a
    // full-width Zen 5 about 5% on those few shapes.
    private const int StreamBlockRows = 256;
    private const int StreamChunkFloats = 1 << 20;
    private const int StreamPanels = 4;
    private const int StreamPackedDepth = 1024;

    // Whether RunStreamedB reads A stored [M, K] in place (512-bit tiles, alpha = 1, K > StreamPackedDepth); cleared
    // only by the gemm-ab benchmark (XENT_AB=inplace or all).
    internal static bool StreamInPlaceA { get; set; } = true;

    // Set only by the gemm-ab benchmark (XENT_AB=stream), to time RunSharedB on the shapes RunStreamedB takes.
    internal static bool DisableStream { get; set; }

    // Whether RunStreamedB's tiles prefetch the next tile's rows of C where a task's C outgrows the core's L2; cleared
    // only by the gemm-ab benchmark (XENT_AB=streamc).
    internal static bool StreamPrefetchC { get; set; } = true;

    /// <summary>
    /// Few rows and B stored [K, N], at least twice as wide as A is tall (the dX products 'nn' at N = 256 and 512, the
    /// MLP's dW 'tn' 768 x 3072): B, the larger operand, is read once from memory, so packing it whole before any tile
    /// runs (<see cref="RunSharedB"/>) left the FMA units idle for a sixth of the time (16-19% at 256 x 768 x 3072 and
    /// 256 x 3072 x 768, Zen 5, 512 bits). Here op(A) is packed first (at most <see cref="StreamChunkFloats"/> at a
    /// time), then tasks take column ranges of C and pack their B micro-panels one at a time, 256 k deep (32 KB at 256
    /// bits: it stays in L1 while the row strips of A pass it; 64 KB in the wider tile at 512 bits), each just before its tiles run, while those tiles
    /// prefetch the rows of the task's next micro-panel (B's rows are a row of B apart, which the hardware prefetchers do
    /// not follow). Over 256 rows, the rows go in blocks of at most <see cref="StreamBlockRows"/> (a K block of them
    /// stays in L2): the first block packs the task's micro-panels, each into its own place, and the later ones reuse
    /// them. With A stored [M, K], alpha = 1 and K over <see cref="StreamPackedDepth"/>, op(A) is not packed: the tiles
    /// read A's rows in place (the last, partial strip packed). The sums are those of the other paths: the tile kernel
    /// with K blocks of one sum block each.
    /// </summary>
    private static void RunStreamedB(PanelShape s, Problem p)
    {
        const int mr = PanelKernels.Mr, kcStep = PanelKernels.SumBlock;
        int nr = s.Nr;
        int rowStrips = (p.M + mr - 1) / mr, panels = (p.N + nr - 1) / nr;
        // With A stored [M, K], alpha = 1 and K over StreamPackedDepth, the 512-bit tiles read A's rows in place (see
        // StridedTile) instead of a packed copy: packing 3 MB of op(A) (256 x 3072) before any tile and reading it back
        // from L3 took 1.06-1.12x the time (256 x 768 x 3072 'nn', Zen 5, 512 bits, 1 and 2 threads); at K = 768 the
        // packed copy stays in L2 and in place took 1.01-1.03x its time. The narrower tiles use each strip of A for
        // half the work or less, so the strided reads cost more than the packing saves: with AVX2 only (Zen 4,
        // gemm-ab XENT_AB=inplace, 15 rounds, 1 and 2 threads, two processes) in place took 1.03-1.16x the packed
        // time at 256 x 768 x 3072 and 256 x 2304 x 3072 'nn' (1.01-1.02x at 128 rows); there at 512 bits 0.96-1.02x.
        bool inPlace = StreamInPlaceA && s.Nr >= 2 * Vector512<float>.Count && !p.TransposeA && p.Alpha == 1 && p.K > StreamPackedDepth;
        nint ars = p.TransposeA ? 1 : p.Lda, aks = p.TransposeA ? p.Lda : 1;
        int chunkMax = inPlace ? RoundUp(p.K, kcStep) : Math.Max(kcStep, StreamChunkFloats / (rowStrips * mr) / kcStep * kcStep);
        int chunks = (p.K + chunkMax - 1) / chunkMax, chunkK = RoundUp((p.K + chunks - 1) / chunks, kcStep);
        int workers = Workers(p);

        // One task per thread, each of at least StreamPanels micro-panels (Run sends fewer elsewhere): a task reads the
        // packed A block of each K block once per micro-panel, from L2 except the first time (two tasks per thread took
        // 3-8% more time at 256 x 768 x 3072 and 256 x 768 x 2304 'nn', Zen 5, 512 bits).
        int tasks = Math.Max(1, Math.Min(workers, panels / StreamPanels));
        int packItems = Math.Min(rowStrips, 2 * workers);
        nint paShared = inPlace ? 0 : (nint)Workspace.Current.Get(WorkspaceSlot.SharedPackedB, (long)rowStrips * mr * chunkK);
        int fullRows = p.M / mr * mr;
        for (int c0 = 0; c0 < p.K; c0 += chunkK)
        {
            int ck = Math.Min(chunkK, p.K - c0), k0 = c0;
            ParallelWork.For(inPlace ? 0 : packItems, p.Threads, new StreamPackItems(p, rowStrips, packItems, k0, ck, paShared), p.Inline);
            ParallelWork.For(tasks, p.Threads, new StreamTasks(s, p, tasks, panels, nr, rowStrips, inPlace, fullRows, k0, ck, paShared, ars, aks), p.Inline);
        }
    }

    private readonly struct StreamPackItems(Problem p, int rowStrips, int packItems, int k0, int ck, nint paShared) : IWorkItems
    {
        public void Run(int item)
        {
            int i0 = (int)((long)item * rowStrips / packItems) * PanelKernels.Mr;
            int i1 = Math.Min(p.M, (int)((long)(item + 1) * rowStrips / packItems) * PanelKernels.Mr);
            PanelPacking.PackA(p.TransposeA, p.A, p.Lda, i0, i1 - i0, k0, ck, p.Alpha, (float*)paShared + ((nint)i0 * ck));
        }
    }

    private readonly struct StreamTasks(PanelShape s, Problem p, int tasks, int panels, int nr, int rowStrips, bool inPlace, int fullRows, int k0, int ck,
        nint paShared, nint ars, nint aks) : IWorkItems
    {
        public void Run(int t)
        {
            int q0 = (int)((long)t * panels / tasks), q1 = (int)((long)(t + 1) * panels / tasks);
            int rowBlocks = (p.M + StreamBlockRows - 1) / StreamBlockRows;

            // C is read and written once per K block; where the task's columns of it outgrow L2, the tiles ask for
            // the next tile's rows of C ahead (gemm-ab XENT_AB=streamc, Zen 4, 2026-12-03, 11 rounds, 1 and 2
            // threads, two processes: 0.92-0.97x the time at 256 x 3072 x 768 and 256 x 2304 x 768 'nn' at 512 bits,
            // 0.92-0.99x with AVX2 only; 1.00-1.03x at 256 x 768 x 3072, whose C stays in L2, so not there).
            bool prefetchC = StreamPrefetchC && (long)(q1 - q0) * nr * p.M * sizeof(float) > CpuCaches.L2Bytes;
            float* pb = Workspace.Current.Get(WorkspaceSlot.PackedB, (long)PanelKernels.SumBlock * nr * (rowBlocks > 1 ? q1 - q0 : 1));
            float* last = null;
            if (inPlace && fullRows < p.M)
            {
                // The last, partial row strip: packed with zero rows below (discarded rows of C), the whole depth.
                last = Workspace.Current.Get(WorkspaceSlot.PackedA, (long)PanelKernels.Mr * p.K);
                PanelPacking.PackA(p.TransposeA, p.A, p.Lda, fullRows, p.M - fullRows, 0, p.K, 1, last);
            }

            for (int p0 = k0; p0 < k0 + ck; p0 += PanelKernels.SumBlock)
            {
                int kc = Math.Min(PanelKernels.SumBlock, p.K - p0);
                float* pa = (float*)paShared + ((nint)(p0 - k0) * PanelKernels.Mr);
                for (int rb = 0; rb < rowBlocks; rb++)
                {
                    int s0 = (int)((long)rb * rowStrips / rowBlocks), s1 = (int)((long)(rb + 1) * rowStrips / rowBlocks);
                    for (int q = q0; q < q1; q++)
                    {
                        int j0 = q * nr, w = Math.Min(nr, p.N - j0);
                        float* panel = pb + (rowBlocks > 1 ? (nint)(q - q0) * PanelKernels.SumBlock * nr : 0);
                        int nextRows = 0, nj0 = 0;
                        float* next = null;
                        if (rb == 0)
                        {
                            Packing.PackB(false, p.B, p.Ldb, p0, kc, j0, w, nr, panel);

                            // The task's next micro-panel: the next one in this K block, or its first in the next.
                            int np0 = q + 1 < q1 ? p0 : p0 + PanelKernels.SumBlock;
                            nj0 = (q + 1 < q1 ? q + 1 : q0) * nr;
                            nextRows = np0 < p.K ? Math.Min(PanelKernels.SumBlock, p.K - np0) : 0;
                            next = p.B + ((nint)np0 * p.Ldb) + nj0;
                        }

                        int rowsPerStrip = (nextRows + (s1 - s0) - 1) / (s1 - s0);
                        for (int si = s0; si < s1; si++)
                        {
                            int ir = si * PanelKernels.Mr;
                            PrefetchRows(next, p.Ldb, (si - s0) * rowsPerStrip, Math.Min(nextRows, (si - s0 + 1) * rowsPerStrip), Math.Min(nr, p.N - nj0));

                            if (prefetchC && (p0 > 0 || p.Beta != 0))
                            {
                                // The next tile's rows of C: the next strip, else the first strip of the next micro-panel.
                                int nir = si + 1 < s1 ? ir + PanelKernels.Mr : s0 * PanelKernels.Mr, nq = si + 1 < s1 ? q : q + 1;
                                if (nq < q1)
                                {
                                    PrefetchRows(p.C + ((nint)nir * p.Ldc) + (nq * nr), p.Ldc, 0, Math.Min(PanelKernels.Mr, p.M - nir), Math.Min(nr, p.N - (nq * nr)));
                                }
                            }

                            if (inPlace && ir < fullRows)
                            {
                                StridedTile(s, w, kc, p.A + (ir * ars) + (p0 * aks), ars, aks, panel, p.C + (ir * p.Ldc) + j0, p.Ldc, p0 == 0, p.Beta);
                            }
                            else
                            {
                                Tile(s, Math.Min(PanelKernels.Mr, p.M - ir), w, kc, inPlace ? last + ((nint)p0 * PanelKernels.Mr) : pa + ((nint)ir * ck), panel,
                                    p.C + (ir * p.Ldc) + j0, p.Ldc, p0 == 0, p.Beta);
                            }
                        }
                    }
                }
            }
        }
    }
}
