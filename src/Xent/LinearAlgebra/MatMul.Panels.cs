using System.Runtime.CompilerServices;

namespace Xent.LinearAlgebra;

/// <content>
/// The fused kernels' products: B already packed in micro-panels, A read in place, on the calling thread.
/// </content>
public static unsafe partial class MatMul
{
    // Whether Panels' first micro-panel sweep prefetches the next strip's rows of A; cleared only by the benchmarks
    // (XENT_AB=panelpf in fused-products and lce-limit, XENT_AB=all in gemm-ab).
    internal static bool PanelPrefetch { get; set; } = true;

    /// <summary>
    /// Row strips per block of <see cref="Panels"/>' panel-first order for the fused dh product (192 rows of D): every
    /// B micro-panel runs over one block before the next block starts, so that the block's A (W's columns, read from
    /// memory once) and C rows stay in L2 across the panels instead of the whole of A and C (W's tile and the group's
    /// dh, 1.2 MB at D = 768, past a 1 MB L2).
    /// </summary>
    internal const int StripBlock = 32;

    /// <summary>
    /// A product for the fused kernels, on the calling thread: C[rows, cols] = A B + beta C (beta = 0 does not read C),
    /// A(i, p) = a[i * ars + p * aks] read in place, B already packed in Nr-column micro-panels along its whole depth
    /// (panel q at b + q * bPanelStride, the Nr values of k at k * Nr, columns past cols zero), as the fused kernel
    /// packs a token block of h once for all its tiles. The sums are <see cref="Gemm"/>'s with alpha = 1 (see
    /// <see cref="PanelKernels"/>): the same bits, whatever the order the tiles run in. A positive <paramref name="kPart"/>
    /// runs each sum block's full tiles in parts of that many k (a shape with a <see cref="PanelShape.PartKernel"/>,
    /// panel first), each micro-panel's part across the strips before its next part, the sums kept between parts.
    /// <paramref name="ahead"/> (or null): <paramref name="aheadFloats"/> floats the caller reads next, asked for a few
    /// lines per tile during the last strip block (see <see cref="AheadLines"/>).
    /// </summary>
    /// <remarks>
    /// K goes in blocks of one sum block (256). By default each block is swept micro-panel by micro-panel of B (256 x
    /// Nr, 32 KB with the 2-vector tile at 512 bits, kept in L1 while every 6-row strip of A streams past it); with
    /// <paramref name="rowStripsOuter"/> 6-row strip by strip instead, each strip of A (in L1) running across every B
    /// micro-panel (in L2), which writes C a row strip at a time: better when C is wide and comes from memory (the
    /// fused dW rows: 96% of the FMA limit against 89-92% panel-first, one thread, Zen 5, 512 bits), worse for the
    /// logits tile and dh (84-86% against 89-91%). A is not packed: with 128-token blocks a packed A panel would
    /// serve only 4 B micro-panels at 512 bits, and packing the tile's W rows cost more than it saved (the logits
    /// tiles ran at 72% of the FMA limit with W packed, 82% read in place, the whole call). Edge tiles (fewer than 6
    /// rows or Nr columns) run the packed kernel on zero-padded copies. A positive <paramref name="stripBlock"/> runs the
    /// panel-first order over blocks of that many strips (see <see cref="StripBlock"/>); no order changes the bits.
    /// </remarks>
    internal static void Panels(in PanelShape s, int rows, int cols, int k, float* a, nint ars, nint aks,
        float* b, nint bPanelStride, float* c, nint ldc, float beta, bool rowStripsOuter = false, int stripBlock = 0, int kPart = 0,
        float* ahead = null, int aheadFloats = 0)
    {
        const int mr = PanelKernels.Mr, kcStep = PanelKernels.SumBlock;
        int nr = s.Nr;
        int strips = (rows + mr - 1) / mr, panels = (cols + nr - 1) / nr;
        int block = rowStripsOuter || stripBlock <= 0 ? strips : stripBlock;
        bool prefetch = PanelPrefetch && !rowStripsOuter && aks == 1;
        bool parts = kPart > 0 && s.PartKernel != null && !rowStripsOuter;
        float* sums = parts ? Workspace.Current.Get(WorkspaceSlot.PartialSums, (long)block * mr * nr) : null;
        for (int p0 = 0; p0 < k; p0 += kcStep)
        {
            int kc = Math.Min(kcStep, k - p0);
            int part = parts ? kPart : kc;
            bool first = p0 == 0;
            for (int s0 = 0; s0 < strips; s0 += block)
            {
                int s1 = Math.Min(strips, s0 + block);
                var next = ahead != null && p0 + kc >= k && s1 == strips
                    ? new AheadLines(ahead, aheadFloats, (s1 - s0) * panels)
                    : default;
                for (int outer = 0; outer < (rowStripsOuter ? strips : panels); outer++)
                {
                    for (int q0 = 0; q0 < kc; q0 += part)
                    {
                        int qc = Math.Min(part, kc - q0);
                        for (int inner = rowStripsOuter ? 0 : s0; inner < (rowStripsOuter ? panels : s1); inner++)
                        {
                            int ir = (rowStripsOuter ? outer : inner) * mr, jr = (rowStripsOuter ? inner : outer) * nr;
                            float* ai = a + (ir * ars) + (p0 * aks);
                            if (prefetch && outer == 0 && q0 == 0 && inner + 1 < s1)
                            {
                                // The first micro-panel's sweep reads the block's rows of A from memory: a strip's rows are
                                // short streams (kc values each), which the hardware prefetchers barely start on, so each
                                // tile asks for the next strip's rows.
                                PrefetchRows(ai + (mr * ars), ars, 0, Math.Min(mr, rows - ir - mr), kc);
                            }

                            if (q0 == 0)
                            {
                                next.Next();
                            }

                            float* bs = b + ((nint)(jr / nr) * bPanelStride) + ((nint)p0 * nr);
                            int h = Math.Min(mr, rows - ir), w = Math.Min(nr, cols - jr);
                            if (qc == kc)
                            {
                                MicroTile(s, h, w, kc, ai, ars, aks, bs, c + (ir * ldc) + jr, ldc, first, beta);
                            }
                            else if (h == mr && w == nr)
                            {
                                s.PartKernel(qc, ai + (q0 * aks), ars, aks, bs + ((nint)q0 * nr), c + (ir * ldc) + jr, ldc, first, beta,
                                    sums + ((nint)(inner - s0) * mr * nr), q0 > 0, q0 + qc < kc);
                            }
                            else if (q0 == 0)
                            {
                                // An edge tile takes its whole sum block at once (no order changes the bits).
                                MicroTile(s, h, w, kc, ai, ars, aks, bs, c + (ir * ldc) + jr, ldc, first, beta);
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// What a product's caller reads next (the fused backward: the next cached logits tile, from memory), asked for
    /// a few cache lines per tile of the product's last strip block, so that it is in L2 when the product ends. A
    /// default value asks for nothing.
    /// </summary>
    private struct AheadLines(float* start, int floats, int tiles)
    {
        private readonly float* end = start + floats;
        private readonly nint perTile = tiles <= 0 ? 0 : ((((nint)floats * sizeof(float)) + 63) / 64 + tiles - 1) / tiles * 16; // floats: whole lines per tile
        private float* next = start;

        /// <summary>Asks for the next few lines.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Next()
        {
            if (next < end)
            {
                int count = (int)Math.Min(perTile, end - next);
                Prefetch(next, count);
                next += count;
            }
        }
    }

    /// <summary>
    /// One h x w tile of C (h &lt;= Mr, w &lt;= Nr) over one K block of kc, A read in place at ai (row stride ars, K
    /// stride aks), B's packed micro-panel at bs: the strided kernel when the tile is whole, else A's h rows packed
    /// into an Mr-row panel (zeros below) for <see cref="Tile"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MicroTile(in PanelShape s, int h, int w, int kc, float* ai, nint ars, nint aks, float* bs,
        float* ci, nint ldc, bool first, float beta)
    {
        const int mr = PanelKernels.Mr;
        if (h == mr && w == s.Nr)
        {
            s.StridedKernel(kc, ai, ars, aks, bs, ci, ldc, first, beta);
            return;
        }

        float* pa = Workspace.Current.Get(WorkspaceSlot.PackedA, (long)mr * kc);
        for (int p = 0; p < kc; p++)
        {
            for (int i = 0; i < mr; i++)
            {
                pa[(p * mr) + i] = i < h ? ai[(i * ars) + (p * aks)] : 0;
            }
        }

        Tile(s, h, w, kc, pa, bs, ci, ldc, first, beta);
    }

    // Whether the fused logits tiles run PanelsBlocked; cleared only by the benchmarks (XENT_AB=blocked in lce-limit),
    // to time Panels' order against it.
    internal static bool BlockedPanels { get; set; } = true;

    /// <summary>Row strips per block of <see cref="PanelsBlocked"/> (42 rows of W: 42 KB of A per K block).</summary>
    internal const int BlockStrips = 7;

    /// <summary>
    /// <see cref="Panels"/>' product for A read in place along K (aks = 1: the fused logits tile, W's rows), in another
    /// order: blocks of <see cref="BlockStrips"/> row strips, each through all of K (one sum block at a time, every
    /// B micro-panel across the block's strips), so that what the next block reads, the same rows' next K block or the
    /// next rows' first, is small enough to be prefetched a few rows per tile during the current block without
    /// pushing the current one out of L2. After the last block come the first rows of <paramref name="nextA"/> (the
    /// next tile's W, <paramref name="nextRows"/> rows, or null), whose 4 KB pages are touched (one load each) as
    /// the call starts: a software prefetch that misses the TLB does not fetch the line. The same sums and bits as
    /// Panels (no order changes them); <paramref name="kPart"/> as Panels'.
    /// </summary>
    /// <remarks>
    /// Panel-first over the whole tile, the first micro-panel of each K block read W's 252 rows from memory (only
    /// the next strip's rows prefetched) and took about twice the others' time (38-55 us against 19-22, 512 bits).
    /// Measured: docs/benchmarks.md ("MatMul.Gemm").
    /// </remarks>
    internal static void PanelsBlocked(in PanelShape s, int rows, int cols, int k, float* a, nint ars,
        float* b, nint bPanelStride, float* c, nint ldc, float beta, float* nextA, int nextRows, int kPart = 0)
    {
        const int mr = PanelKernels.Mr, kcStep = PanelKernels.SumBlock, sbs = BlockStrips;
        int nr = s.Nr;
        int strips = (rows + mr - 1) / mr, panels = (cols + nr - 1) / nr;
        bool parts = kPart > 0 && s.PartKernel != null;
        float* sums = parts ? Workspace.Current.Get(WorkspaceSlot.PartialSums, (long)sbs * mr * nr) : null;
        if (nextA != null)
        {
            TouchPages(nextA, nextRows, ars, k);
        }

        for (int s0 = 0; s0 < strips; s0 += sbs)
        {
            int s1 = Math.Min(strips, s0 + sbs);
            for (int p0 = 0; p0 < k; p0 += kcStep)
            {
                int kc = Math.Min(kcStep, k - p0);
                bool first = p0 == 0;

                // What the next block reads: these strips' next K block, the next strips' first, or the next tile's.
                float* na = null;
                int nRows = 0, nkc = 0;
                if (p0 + kcStep < k)
                {
                    na = a + (s0 * mr * ars) + p0 + kcStep;
                    nRows = Math.Min(rows, s1 * mr) - (s0 * mr);
                    nkc = Math.Min(kcStep, k - p0 - kcStep);
                }
                else if (s1 < strips)
                {
                    na = a + (s1 * mr * ars);
                    nRows = Math.Min(rows, (s1 + sbs) * mr) - (s1 * mr);
                    nkc = Math.Min(kcStep, k);
                }
                else if (nextA != null)
                {
                    na = nextA;
                    nRows = Math.Min(nextRows, sbs * mr);
                    nkc = Math.Min(kcStep, k);
                }

                int part = parts ? kPart : kc;
                int tiles = (s1 - s0) * panels * ((kc + part - 1) / part);
                int perTile = (nRows + tiles - 1) / tiles, done = 0;
                bool firstBlock = s0 == 0 && p0 == 0;
                for (int jp = 0; jp < panels; jp++)
                {
                    int jr = jp * nr;
                    for (int q0 = 0; q0 < kc; q0 += part)
                    {
                        int qc = Math.Min(part, kc - q0);
                        for (int si = s0; si < s1; si++)
                        {
                            int ir = si * mr;
                            float* ai = a + (ir * ars) + p0;
                            if (firstBlock && jp == 0 && q0 == 0 && si + 1 < s1)
                            {
                                // The next strip's rows of the call's first block: only a group's first tile needs it (the tile
                                // before asked for the others' through nextA), but every call does it, a few loads; skipping it
                                // after a group's first tile, or doing it in every block, did not pay (docs/benchmarks.md,
                                // "Tried and dropped").
                                PrefetchRows(ai + (mr * ars), ars, 0, Math.Min(mr, rows - ir - mr), kc);
                            }

                            for (int e = Math.Min(nRows, done + perTile); done < e; done++)
                            {
                                Prefetch(na + (done * ars), nkc);
                            }

                            float* bs = b + ((nint)jp * bPanelStride) + ((nint)p0 * nr);
                            int h = Math.Min(mr, rows - ir), w = Math.Min(nr, cols - jr);
                            if (qc == kc)
                            {
                                MicroTile(s, h, w, kc, ai, ars, 1, bs, c + (ir * ldc) + jr, ldc, first, beta);
                            }
                            else if (h == mr && w == nr)
                            {
                                s.PartKernel(qc, ai + q0, ars, 1, bs + ((nint)q0 * nr), c + (ir * ldc) + jr, ldc, first, beta,
                                    sums + ((nint)(si - s0) * mr * nr), q0 > 0, q0 + qc < kc);
                            }
                            else if (q0 == 0)
                            {
                                MicroTile(s, h, w, kc, ai, ars, 1, bs, c + (ir * ldc) + jr, ldc, first, beta);
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>Loads one value from each 4 KB page of rows [0, count) x [0, length) at a (row stride ars), for its TLB entry.</summary>
    private static void TouchPages(float* a, int count, nint ars, int length)
    {
        const int pageFloats = 4096 / sizeof(float);
        nint last = -1;
        for (int r = 0; r < count; r++)
        {
            float* r0 = a + (r * ars), r1 = r0 + length - 1;
            if (((nint)r0 >> 12) != last)
            {
                _ = Volatile.Read(ref *(int*)r0);
            }

            // Rows longer than a page (D > 1024) cross more than one boundary: a value in each page after the first.
            for (float* q = (float*)((((nint)r0 >> 12) + 1) << 12); q <= r1; q += pageFloats)
            {
                _ = Volatile.Read(ref *(int*)q);
            }

            last = (nint)r1 >> 12;
        }
    }
}
