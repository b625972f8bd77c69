using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Xent.Kernels;

namespace Xent.LinearAlgebra;

/// <summary>
/// Single-precision matrix products, row-major, in the BLAS sgemm form: packed micro-panels (packing vectorised),
/// cache blocking (K in blocks of up to 1024, so that most products write C once; A in Mc-row blocks kept in L2) and
/// a register-blocked 6 x (2 vectors) FMA micro-kernel for the widest vectors <see cref="Simd"/> allows (512, 256,
/// 128 bits or scalar). Both cores work on row blocks of C over a B packed once (or, when B is large, on column
/// blocks that pack their own B panel), so no two threads write the same packed data.
/// </summary>
/// <remarks>
/// Each element of C is summed over k in blocks of 256 from k = 0, each block one chain of fused multiply-adds in k
/// order from 0 over alpha A[i, k] B[k, j] (alpha applied to A's values as they are packed), the first block's sum
/// s0 giving C = s0 or fma(C, beta, s0) and each later sum added in order (see <see cref="PanelKernels"/>). The
/// cache blocking, the tile, the thread, the vector width and the other rows and columns never change it, so
/// results are bitwise the same for any thread count, any M, N and position in the batch, and any width. The fused kernels' products (<see cref="Panels"/>) run the same tile and sums.
/// </remarks>
public static unsafe class MatMul
{
    // Below this many multiply-adds a call runs on the calling thread: fork/join would cost more than it saves.
    private const long ParallelThreshold = 1L << 21;

    // Aim for at least this many tasks so that both cores get work on small or skinny products.
    private const int TargetTasks = 8;

    // Products with at most this many rows and B stored [N, K] swap the operands' roles (see RunSwapped), which stage C^T
    // this many columns at a time and run K in blocks of at most SwapKc.
    private const int SwapRows = 256;
    private const int SwapColumns = 48;
    private const int SwapKc = 768;

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

    // Set only by the gemm-ab benchmark, to time the previous paths for few rows: the packed-B path on the shapes the
    // swapped path takes, and TargetTasks row blocks instead of one per thread in RunSharedB.
    internal static bool DisableSwap { get; set; }

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

    // Whether RunSwapped's tiles prefetch the next strip's rows of B; cleared only by the gemm-ab benchmark (XENT_AB=swappf
    // or all).
    internal static bool SwapPrefetch { get; set; } = true;

    // Whether RunStreamedB reads A stored [M, K] in place (512-bit tiles, alpha = 1, K > StreamPackedDepth); cleared
    // only by the gemm-ab benchmark (XENT_AB=inplace or all).
    internal static bool StreamInPlaceA { get; set; } = true;

    // Whether Panels' first micro-panel sweep prefetches the next strip's rows of A; cleared only by the benchmarks
    // (XENT_AB=panelpf in fused-products and lce-limit, XENT_AB=all in gemm-ab).
    internal static bool PanelPrefetch { get; set; } = true;

    // Whether RunSwapped's tiles prefetch the rows of C of the next slice transposed into C; cleared only by the gemm-ab
    // benchmark (XENT_AB=swapc).
    internal static bool SwapPrefetchC { get; set; } = true;

    // Whether Rows' tiles prefetch the next tile's rows of C; cleared only by the gemm-ab benchmark (XENT_AB=rowsc).
    internal static bool RowsPrefetchC { get; set; } = true;

    // Set only by the gemm-ab benchmark (XENT_AB=stream), to time RunSharedB on the shapes RunStreamedB takes.
    internal static bool DisableStream { get; set; }

    // RunSplitK takes 'tn' products (A stored [K, M]) with K of at least SplitMinK whose partial sums, one C per sum block,
    // fit in SplitMaxFloats (16 MB): the weight gradients of small layers over many rows.
    private const int SplitMinK = 4 * PanelKernels.SumBlock;
    private const long SplitMaxFloats = 4L << 20;

    // Set only by benchmarks (XENT_AB=nosplitk), to time the other paths on the shapes RunSplitK takes.
    internal static bool DisableSplitK { get; set; } = Environment.GetEnvironmentVariable("XENT_AB") == "nosplitk";

    /// <summary>
    /// C = alpha * op(A) * op(B) + beta * C, row-major. op(A) is [M, K], op(B) is [K, N], C is [M, N].
    /// A is stored [M, K] (lda &gt;= K), or [K, M] when transposeA (lda &gt;= M); likewise B is [K, N] or [N, K].
    /// beta = 0 overwrites C without reading it (NaN in C does not leak); alpha = 0 or K = 0 does not read A or B.
    /// </summary>
    /// <param name="transposeA">Whether A is stored transposed ([K, M]).</param>
    /// <param name="transposeB">Whether B is stored transposed ([N, K]).</param>
    /// <param name="m">M, rows of op(A) and C.</param>
    /// <param name="n">N, columns of op(B) and C.</param>
    /// <param name="k">K, columns of op(A) and rows of op(B).</param>
    /// <param name="alpha">Scale of the product.</param>
    /// <param name="a">A as stored.</param>
    /// <param name="lda">Row stride of A as stored.</param>
    /// <param name="b">B as stored.</param>
    /// <param name="ldb">Row stride of B as stored.</param>
    /// <param name="beta">Scale of C before adding.</param>
    /// <param name="c">C [M, N] with row stride ldc.</param>
    /// <param name="ldc">Row stride of C (&gt;= N).</param>
    /// <param name="maxDegreeOfParallelism">Most threads; -1 for all cores. The result does not depend on it.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative, a stride too small, or maxDegreeOfParallelism is 0 or below -1.</exception>
    /// <exception cref="ArgumentException">A span is shorter than its sizes and stride require.</exception>
    public static void Gemm(bool transposeA, bool transposeB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc,
        int maxDegreeOfParallelism = -1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        if (maxDegreeOfParallelism == 0 || maxDegreeOfParallelism < -1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxDegreeOfParallelism), maxDegreeOfParallelism, "Must be -1 (all cores) or positive.");
        }

        bool readsAB = k > 0 && alpha != 0;
        CheckMatrix(a.Length, transposeA ? k : m, transposeA ? m : k, lda, readsAB, nameof(a), nameof(lda));
        CheckMatrix(b.Length, transposeB ? n : k, transposeB ? k : n, ldb, readsAB, nameof(b), nameof(ldb));
        CheckMatrix(c.Length, m, n, ldc, true, nameof(c), nameof(ldc));
        if (m == 0 || n == 0)
        {
            return;
        }

        fixed (float* pa = a, pb = b, pc = c)
        {
            if (!readsAB)
            {
                Scale(m, n, beta, pc, ldc);
                return;
            }

            Run(Simd.Width, transposeA, transposeB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, maxDegreeOfParallelism);
        }
    }

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
    /// <see cref="PanelKernels"/>): the same bits, whatever the order the tiles run in.
    /// </summary>
    /// <remarks>
    /// K goes in blocks of one sum block (256). By default each block is swept micro-panel by micro-panel of B (256 x
    /// Nr, 32 KB at 512 bits, kept in L1 while every 6-row strip of A streams past it); with
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
        float* b, nint bPanelStride, float* c, nint ldc, float beta, bool rowStripsOuter = false, int stripBlock = 0)
    {
        const int mr = PanelKernels.Mr, kcStep = PanelKernels.SumBlock;
        int nr = s.Nr;
        int strips = (rows + mr - 1) / mr, panels = (cols + nr - 1) / nr;
        int block = rowStripsOuter || stripBlock <= 0 ? strips : stripBlock;
        bool prefetch = PanelPrefetch && !rowStripsOuter && aks == 1;
        for (int p0 = 0; p0 < k; p0 += kcStep)
        {
            int kc = Math.Min(kcStep, k - p0);
            bool first = p0 == 0;
            for (int s0 = 0; s0 < strips; s0 += block)
            {
                int s1 = Math.Min(strips, s0 + block);
                for (int outer = 0; outer < (rowStripsOuter ? strips : panels); outer++)
                {
                    for (int inner = rowStripsOuter ? 0 : s0; inner < (rowStripsOuter ? panels : s1); inner++)
                    {
                        int ir = (rowStripsOuter ? outer : inner) * mr, jr = (rowStripsOuter ? inner : outer) * nr;
                        float* ai = a + (ir * ars) + (p0 * aks);
                        if (prefetch && outer == 0 && inner + 1 < s1)
                        {
                            // The first micro-panel's sweep reads the block's rows of A from memory: a strip's rows are
                            // short streams (kc values each), which the hardware prefetchers barely start on, so each
                            // tile asks for the next strip's rows.
                            for (int r = 0, nh = Math.Min(mr, rows - ir - mr); r < nh; r++)
                            {
                                Prefetch(ai + ((mr + r) * ars), kc);
                            }
                        }

                        float* bs = b + ((nint)(jr / nr) * bPanelStride) + ((nint)p0 * nr);
                        MicroTile(s, Math.Min(mr, rows - ir), Math.Min(nr, cols - jr), kc, ai, ars, aks, bs, c + (ir * ldc) + jr, ldc, first, beta);
                    }
                }
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
    /// Panels (no order changes them).
    /// </summary>
    /// <remarks>
    /// Panel-first over the whole tile, the first micro-panel of each K block read W's 252 rows from memory (only
    /// the next strip's rows prefetched) and took about twice the others' time (38-55 us against 19-22, 512 bits).
    /// Measured: docs/benchmarks.md ("MatMul.Gemm").
    /// </remarks>
    internal static void PanelsBlocked(in PanelShape s, int rows, int cols, int k, float* a, nint ars,
        float* b, nint bPanelStride, float* c, nint ldc, float beta, float* nextA, int nextRows)
    {
        const int mr = PanelKernels.Mr, kcStep = PanelKernels.SumBlock, sbs = BlockStrips;
        int nr = s.Nr;
        int strips = (rows + mr - 1) / mr, panels = (cols + nr - 1) / nr;
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

                int tiles = (s1 - s0) * panels;
                int perTile = (nRows + tiles - 1) / tiles, done = 0;
                bool firstBlock = s0 == 0 && p0 == 0;
                for (int jp = 0; jp < panels; jp++)
                {
                    int jr = jp * nr;
                    for (int si = s0; si < s1; si++)
                    {
                        int ir = si * mr;
                        float* ai = a + (ir * ars) + p0;
                        if (firstBlock && jp == 0 && si + 1 < s1)
                        {
                            // The call's first block was not prefetched (a group's first tile): the next strip's rows.
                            for (int r = 0, nh = Math.Min(mr, rows - ir - mr); r < nh; r++)
                            {
                                Prefetch(ai + ((mr + r) * ars), kc);
                            }
                        }

                        for (int e = Math.Min(nRows, done + perTile); done < e; done++)
                        {
                            Prefetch(na + (done * ars), nkc);
                        }

                        float* bs = b + ((nint)jp * bPanelStride) + ((nint)p0 * nr);
                        MicroTile(s, Math.Min(mr, rows - ir), Math.Min(nr, cols - jr), kc, ai, ars, 1, bs, c + (ir * ldc) + jr, ldc, first, beta);
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

    /// <summary>The blocked product on raw pointers (arguments already checked, K &gt; 0, alpha != 0).</summary>
    internal static void Run(VectorWidth width, bool transposeA, bool transposeB, int m, int n, int k, float alpha,
        float* a, nint lda, float* b, nint ldb, float beta, float* c, nint ldc, int maxDegreeOfParallelism)
    {
        if (m == 1)
        {
            Gemv.Run(width, transposeB, n, k, alpha, a, transposeA ? lda : 1, b, ldb, beta, c, maxDegreeOfParallelism, Gemv.Inline(n, k));
            return;
        }

        bool inline = (long)m * n * k < ParallelThreshold || Environment.ProcessorCount == 1;

        var shape = PanelShape.For(width);
        var p = new Problem(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, maxDegreeOfParallelism,
            inline);
        if (!DisableSplitK && transposeA && !transposeB && !p.Inline && Workers(p) == 2 && k >= SplitMinK
            && (long)((k + PanelKernels.SumBlock - 1) / PanelKernels.SumBlock) * m * n <= SplitMaxFloats)
        {
            RunSplitK(shape, p);
        }
        else if (!DisableSwap && transposeB && m <= SwapRows && n >= m)
        {
            RunSwapped(shape, p);
        }
        else if (!DisableStream && !transposeB && m <= SwapRows && n >= 2 * m && n >= StreamPanels * shape.Nr * Workers(p))
        {
            RunStreamedB(shape, p);
        }
        else if ((long)RoundUp(n, shape.Nr) * PanelShape.KcFor(k) <= PanelShape.SharedPanelFloats)
        {
            RunSharedB(shape, p);
        }
        else
        {
            RunColumnBlocks(shape, p);
        }
    }

    // The threads a product's tasks may run on.
    private static int Workers(in Problem p) => p.Inline ? 1 : p.Threads < 0 ? Environment.ProcessorCount : p.Threads;

    internal static int RoundUp(int x, int multiple) => (x + multiple - 1) / multiple * multiple;

    /// <summary>
    /// B small enough to pack whole (one K block at a time): all threads pack it, then row blocks of C are the tasks,
    /// each packing only its own rows of A. Every element of A and B is packed once (A's, with at most 3 row strips, once
    /// per column block).
    /// </summary>
    private static void RunSharedB(PanelShape s, Problem p)
    {
        int nr = s.Nr, kcStep = PanelShape.KcFor(p.K);
        int strips = (p.N + nr - 1) / nr;
        int stripsPerItem = (strips + TargetTasks - 1) / TargetTasks;
        int packItems = (strips + stripsPerItem - 1) / stripsPerItem;
        // Row blocks (each packs its rows of A once and sweeps them across the whole of B): an even number of them, up to
        // TargetTasks, of at least two row strips each, so that each B micro-panel serves more than one strip and two
        // cores get equal shares; only with too few rows for two tasks, column blocks, which pack the same rows of A
        // once each. (Splitting columns whenever M was under 8 Mc packed A two to eight times in the weight-gradient
        // products of small models, 64 to 256 rows: packing was a tenth of the default training step.) With at most
        // SwapRows rows (the dX products 'nn' at N = 256), one row block per thread: each B micro-panel then serves ~11
        // strips instead of ~5, 5-10% less time with 2 threads (Zen 5, 512 and 256 bits; docs/benchmarks.md). Reading
        // B [K, N] in place through the swapped path (ars = 1, aks = ldb) was no faster: its rows, a multiple of 1 KB
        // apart, share a few L1 sets, so the 6-column strip never stays in L1 (4-14% slower at 512 bits).
        int rowStrips = (p.M + PanelKernels.Mr - 1) / PanelKernels.Mr;
        int workers = p.Threads < 0 ? Environment.ProcessorCount : p.Threads;
        int rowTasks = Math.Max(1, Math.Min(rowStrips / 2, !DisableSwap && p.M <= SwapRows ? Math.Max(2, workers) : TargetTasks) & ~1);
        int colTasks = rowTasks > 1 ? 1 : Math.Min(strips, TargetTasks);
        nint pbShared = (nint)Workspace.Current.Get(WorkspaceSlot.SharedPackedB, (long)strips * nr * kcStep);
        bool ends = ParallelWork.Ends && colTasks == 1 && Workers(p) == 2;
        int half = (rowTasks + 1) / 2;
        for (int p0 = 0; p0 < p.K; p0 += kcStep)
        {
            int kc = Math.Min(kcStep, p.K - p0), k0 = p0;
            ParallelWork.For(packItems, p.Threads, item =>
            {
                int j0 = item * stripsPerItem * nr;
                Packing.PackB(p.TransposeB, p.B, p.Ldb, k0, kc, j0, Math.Min(stripsPerItem * nr, p.N - j0), nr, (float*)pbShared + ((nint)j0 * kc));
            }, p.Inline);
            ParallelWork.For(rowTasks * colTasks, p.Threads, t =>
            {
                // Row strips and column strips split as evenly as whole strips allow.
                int r = t / colTasks, q = t % colTasks;
                int i0 = (int)((long)r * rowStrips / rowTasks) * PanelKernels.Mr;
                int i1 = Math.Min(p.M, (int)((long)(r + 1) * rowStrips / rowTasks) * PanelKernels.Mr);
                int j0 = (int)((long)q * strips / colTasks) * nr;
                int j1 = Math.Min(p.N, (int)((long)(q + 1) * strips / colTasks) * nr);
                // The rows this thread likely takes next, here or in the next K block; their first A block is what Rows
                // prefetches during this task's last. With 2 threads the tasks go from both ends (the caller's from the
                // first, the worker's from the last: each thread's row blocks are about the rows it wrote in the per-row
                // layers before), so the next task is the one after or before; otherwise the threads take them in turn.
                int nt, nk0 = k0;
                if (ends)
                {
                    bool front = t < half;
                    nt = front ? t + 1 : t - 1;
                    if (front ? nt >= half : nt < half)
                    {
                        nt = front ? 0 : rowTasks - 1;
                        nk0 += kc;
                    }
                }
                else
                {
                    nt = t + Workers(p);
                    if (nt >= rowTasks)
                    {
                        nt -= rowTasks;
                        nk0 += kc;
                    }
                }

                int ni0 = (int)((long)nt * rowStrips / rowTasks) * PanelKernels.Mr;
                int ni1 = Math.Min(p.M, (int)((long)(nt + 1) * rowStrips / rowTasks) * PanelKernels.Mr);
                bool hint = PackPrefetchHint && colTasks == 1 && nt < rowTasks;
                Rows(s, p, i0, i1 - i0, j0, j1 - j0, k0, kc, (float*)pbShared + ((nint)j0 * kc),
                    hint ? ni0 : -1, ni1 - ni0, nk0);
            }, p.Inline, ends);
        }
    }

    /// <summary>
    /// Few rows and B stored [K, N], at least twice as wide as A is tall (the dX products 'nn' at N = 256 and 512, the
    /// MLP's dW 'tn' 768 x 3072): B, the larger operand, is read once from memory, so packing it whole before any tile
    /// runs (<see cref="RunSharedB"/>) left the FMA units idle for a sixth of the time (16-19% at 256 x 768 x 3072 and
    /// 256 x 3072 x 768, Zen 5, 512 bits). Here op(A) is packed first (at most <see cref="StreamChunkFloats"/> at a
    /// time), then tasks take column ranges of C and pack their B micro-panels one at a time, 256 k deep (32 KB at 512
    /// bits: it stays in L1 while the row strips of A pass it), each just before its tiles run, while those tiles
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
        bool inPlace = StreamInPlaceA && s.Nr == 2 * Vector512<float>.Count && !p.TransposeA && p.Alpha == 1 && p.K > StreamPackedDepth;
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
            ParallelWork.For(inPlace ? 0 : packItems, p.Threads, item =>
            {
                int i0 = (int)((long)item * rowStrips / packItems) * mr;
                int i1 = Math.Min(p.M, (int)((long)(item + 1) * rowStrips / packItems) * mr);
                PanelPacking.PackA(p.TransposeA, p.A, p.Lda, i0, i1 - i0, k0, ck, p.Alpha, (float*)paShared + ((nint)i0 * ck));
            }, p.Inline);
            ParallelWork.For(tasks, p.Threads, t =>
            {
                int q0 = (int)((long)t * panels / tasks), q1 = (int)((long)(t + 1) * panels / tasks);
                int rowBlocks = (p.M + StreamBlockRows - 1) / StreamBlockRows;
                float* pb = Workspace.Current.Get(WorkspaceSlot.PackedB, (long)kcStep * nr * (rowBlocks > 1 ? q1 - q0 : 1));
                float* last = null;
                if (inPlace && fullRows < p.M)
                {
                    // The last, partial row strip: packed with zero rows below (discarded rows of C), the whole depth.
                    last = Workspace.Current.Get(WorkspaceSlot.PackedA, (long)mr * p.K);
                    PanelPacking.PackA(p.TransposeA, p.A, p.Lda, fullRows, p.M - fullRows, 0, p.K, 1, last);
                }

                for (int p0 = k0; p0 < k0 + ck; p0 += kcStep)
                {
                    int kc = Math.Min(kcStep, p.K - p0);
                    float* pa = (float*)paShared + ((nint)(p0 - k0) * mr);
                    for (int rb = 0; rb < rowBlocks; rb++)
                    {
                        int s0 = (int)((long)rb * rowStrips / rowBlocks), s1 = (int)((long)(rb + 1) * rowStrips / rowBlocks);
                        for (int q = q0; q < q1; q++)
                        {
                            int j0 = q * nr, w = Math.Min(nr, p.N - j0);
                            float* panel = pb + (rowBlocks > 1 ? (nint)(q - q0) * kcStep * nr : 0);
                            int nextRows = 0, nj0 = 0;
                            float* next = null;
                            if (rb == 0)
                            {
                                Packing.PackB(false, p.B, p.Ldb, p0, kc, j0, w, nr, panel);

                                // The task's next micro-panel: the next one in this K block, or its first in the next.
                                int np0 = q + 1 < q1 ? p0 : p0 + kcStep;
                                nj0 = (q + 1 < q1 ? q + 1 : q0) * nr;
                                nextRows = np0 < p.K ? Math.Min(kcStep, p.K - np0) : 0;
                                next = p.B + ((nint)np0 * p.Ldb) + nj0;
                            }

                            int rowsPerStrip = (nextRows + (s1 - s0) - 1) / (s1 - s0);
                            for (int si = s0; si < s1; si++)
                            {
                                int ir = si * mr;
                                for (int r = (si - s0) * rowsPerStrip; r < Math.Min(nextRows, (si - s0 + 1) * rowsPerStrip); r++)
                                {
                                    Prefetch(next + (r * p.Ldb), Math.Min(nr, p.N - nj0));
                                }

                                if (inPlace && ir < fullRows)
                                {
                                    StridedTile(s, w, kc, p.A + (ir * ars) + (p0 * aks), ars, aks, panel, p.C + (ir * p.Ldc) + j0, p.Ldc, p0 == 0, p.Beta);
                                }
                                else
                                {
                                    Tile(s, Math.Min(mr, p.M - ir), w, kc, inPlace ? last + ((nint)p0 * mr) : pa + ((nint)ir * ck), panel,
                                        p.C + (ir * p.Ldc) + j0, p.Ldc, p0 == 0, p.Beta);
                                }
                            }
                        }
                    }
                }
            }, p.Inline);
        }
    }

    /// <summary>
    /// A weight gradient's product over many rows, op(A) = A^T with A stored [K, M] (dW = dY^T X: K rows of tokens) on 2
    /// threads: every sum block of K (256 rows) is a task that writes its own partial C (the rows' A and B read by the
    /// thread that, in the per-row layers before, wrote them: tasks go from both ends, the caller's from the first rows,
    /// the worker's from the last), then the partials are added into C in block order. Split by rows of C instead, each
    /// thread read every row of A and B, half of them from the other core's caches (the backward's products scaled
    /// 1.1-1.5x on 2 threads on this virtual machine). The sums are the other paths': each block's is the same chain from
    /// 0, and C = s0 (or fma(C, beta, s0)), then C + s1, C + s2, ... in order.
    /// </summary>
    private static void RunSplitK(PanelShape s, Problem p)
    {
        const int kcStep = PanelKernels.SumBlock;
        int nr = s.Nr, blocks = (p.K + kcStep - 1) / kcStep;
        long size = (long)p.M * p.N;
        nint partials = (nint)Workspace.Current.Get(WorkspaceSlot.SharedPackedB, blocks * size);
        ParallelWork.For(blocks, p.Threads, block =>
        {
            int p0 = block * kcStep, kc = Math.Min(kcStep, p.K - p0);
            float* pb = Workspace.Current.Get(WorkspaceSlot.PackedB, (long)RoundUp(p.N, nr) * kc);
            Packing.PackB(false, p.B, p.Ldb, p0, kc, 0, p.N, nr, pb);
            var part = new Problem(true, false, p.M, p.N, kc, p.Alpha, p.A + ((nint)p0 * p.Lda), p.Lda, p.B + ((nint)p0 * p.Ldb), p.Ldb,
                0, (float*)partials + (block * size), p.N, 1, true);
            Rows(s, part, 0, p.M, 0, p.N, 0, kc, pb);
        }, ends: ParallelWork.Ends);

        // C's rows in ranges, each element's partials added in block order (element-wise: the same bits at any width).
        int grain = Math.Max(1, (int)Math.Min(p.M, 4096 / Math.Max(1, p.N)));
        ParallelWork.ForRanges(p.M, grain, p.Threads, (start, end) =>
        {
            for (int i = start; i < end; i++)
            {
                var c = new Span<float>(p.C + (i * p.Ldc), p.N);
                var first = new ReadOnlySpan<float>((float*)partials + ((long)i * p.N), p.N);
                if (p.Beta == 0)
                {
                    first.CopyTo(c);
                }
                else
                {
                    for (int j = 0; j < p.N; j++)
                    {
                        c[j] = ScalarOps.MultiplyAdd(c[j], p.Beta, first[j]);
                    }
                }

                for (int block = 1; block < blocks; block++)
                {
                    Elementwise.Add(c, new ReadOnlySpan<float>((float*)partials + (block * size) + ((long)i * p.N), p.N), c);
                }
            }
        });
    }

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

    /// <summary>
    /// Few rows and B stored [N, K] (the forward products and the head at small N): packing B would copy
    /// and transpose all of it for only a few rows of A (at M = 256 that took about a tenth of the product's time), so
    /// the roles are swapped: op(A)^T is packed as the B operand (small: a K block of it stays in L2), and B's rows are
    /// read in place as the kernel's strided A operand, 6 columns of C per tile. The tiles write C^T into a staging block
    /// of <see cref="SwapColumns"/> columns, K block after K block (blocks of at most <see cref="SwapKc"/>, whole sum
    /// blocks: the block size changes no sum), transposed into C a slice at a time while the next block's tiles run (in one
    /// burst at the end, the stores to C's scattered lines took a tenth of the time). Every element's sums are the same
    /// chain of fused multiply-adds over alpha A[i, k] B[j, k] in k order (only the operands' roles differ, and a b = b a
    /// exactly), so the bits are those of the other paths.
    /// </summary>
    private static void RunSwapped(PanelShape s, Problem p)
    {
        int nr = s.Nr, kc = p.K;
        int panels = (p.M + nr - 1) / nr;
        int kBlocks = (p.K + SwapKc - 1) / SwapKc, kcStep = RoundUp((p.K + kBlocks - 1) / kBlocks, PanelKernels.SumBlock);
        int chunks = (p.N + SwapColumns - 1) / SwapColumns;
        int tasks = Math.Min(chunks, TargetTasks);
        nint paShared = (nint)Workspace.Current.Get(WorkspaceSlot.SharedPackedB, (long)panels * nr * kc);
        ParallelWork.For(panels, p.Threads, q =>
        {
            int i0 = q * nr;
            Packing.PackB(!p.TransposeA, p.A, p.Lda, 0, kc, i0, Math.Min(nr, p.M - i0), nr, (float*)paShared + ((nint)i0 * kc), p.Alpha);
        }, p.Inline);
        ParallelWork.For(tasks, p.Threads, t =>
        {
            int c0 = (int)((long)t * chunks / tasks), c1 = (int)((long)(t + 1) * chunks / tasks);
            long stageFloats = (long)RoundUp(SwapColumns, PanelKernels.Mr) * panels * nr;
            float* stages = Workspace.Current.Get(WorkspaceSlot.PackedB, 2 * stageFloats);
            for (int chunk = c0; chunk <= c1; chunk++)
            {
                // Chunk c's tiles into one staging block while chunk c - 1's block, in the other, goes to C.
                int j0 = chunk * SwapColumns, prev = j0 - SwapColumns;
                SwappedColumns(s, p, j0, chunk < c1 ? Math.Min(SwapColumns, p.N - j0) : 0, (float*)paShared, kcStep,
                    stages + ((chunk & 1) * stageFloats), prev, chunk > c0 ? Math.Min(SwapColumns, p.N - prev) : 0,
                    stages + ((~chunk & 1) * stageFloats));
            }
        }, p.Inline);
    }

    /// <summary>
    /// Columns [j0, j0 + cols) of C^T into stage: 6-column strips (B's rows, in L1), each across every packed panel of
    /// op(A)^T; meanwhile columns [prev, prev + prevCols) staged in prevStage are written to C, a slice after each strip.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SwappedColumns(in PanelShape s, in Problem p, int j0, int cols, float* pa, int kcStep, float* stage,
        int prev, int prevCols, float* prevStage)
    {
        const int mr = PanelKernels.Mr;
        int nr = s.Nr, k = p.K;
        int mPad = RoundUp(p.M, nr);
        int strips = (cols + mr - 1) / mr;
        int slice = strips == 0 ? p.M : RoundUp((p.M + strips - 1) / strips, 8), written = 0;
        if (p.Beta != 0 && cols > 0)
        {
            Transpose(p.C + j0, p.Ldc, stage, mPad, p.M, cols);
        }

        float* rows = null;
        if (cols % mr != 0)
        {
            // The last strip: its rows packed with zero rows below (discarded rows of C^T).
            rows = Workspace.Current.Get(WorkspaceSlot.PackedA, (long)mr * k);
            PanelPacking.PackA(false, p.B, p.Ldb, j0 + (cols / mr * mr), cols % mr, 0, k, 1, rows);
        }

        for (int p0 = 0; p0 < k; p0 += kcStep)
        {
            int kc = Math.Min(kcStep, k - p0);
            bool first = p0 == 0;
            for (int jr = 0; jr < cols; jr += mr)
            {
                float* bj = p.B + ((j0 + jr) * p.Ldb) + p0;

                // The next strip's rows of B (the next 6 in this K block; after the chunk's last strip, its first in the
                // next K block or else the next chunk's first from k = 0): 6 streams a row of B apart, which the
                // hardware prefetchers do not run ahead of, so each tile asks for a share of each row's lines (without
                // it, 1.04x the time at 256 x 3072 x 768 and 256 x 50257 x 768, Zen 5, 512 bits).
                int nj = jr + mr < cols ? j0 + jr + mr : p0 + kcStep < k ? j0 : j0 + cols;
                int np0 = jr + mr < cols ? p0 : p0 + kcStep < k ? p0 + kcStep : 0;
                int nRows = SwapPrefetch ? Math.Min(mr, p.N - nj) : 0, nK = Math.Min(kcStep, k - np0);
                int tiles = mPad / nr, t = 0;
                // The rows of C that the slice after this strip goes to (first K block): lines a row of C apart, written
                // in 8 x 8 blocks, whose misses stalled the transposition (7% of the samples at 256 x 3072 x 768, one
                // thread, Zen 5, 512 bits; 5% with this), so the tiles ask for a share of them each (gemm-ab: 0.98-1.00x
                // the time on 256 x {768, 2304, 3072} x {768, 3072}).
                int sliceRows = SwapPrefetchC && first && prevCols > 0 ? Math.Max(0, jr + mr >= cols ? p.M - written : Math.Min(slice, p.M - written)) : 0;
                for (int ir = 0; ir < mPad; ir += nr, t++)
                {
                    int f0 = (int)((long)t * nK / tiles), f1 = (int)((long)(t + 1) * nK / tiles);
                    for (int r = 0; r < nRows; r++)
                    {
                        Prefetch(p.B + ((nj + r) * p.Ldb) + np0 + f0, f1 - f0);
                    }

                    for (int r = written + (int)((long)t * sliceRows / tiles), end = written + (int)((long)(t + 1) * sliceRows / tiles); r < end; r++)
                    {
                        Prefetch(p.C + (r * p.Ldc) + prev, prevCols);
                    }

                    float* panel = pa + ((nint)ir * k) + ((nint)p0 * nr), tile = stage + ((nint)jr * mPad) + ir;
                    if (jr + mr <= cols)
                    {
                        s.StridedKernel(kc, bj, p.Ldb, 1, panel, tile, mPad, first, p.Beta);
                    }
                    else
                    {
                        s.Kernel(kc, rows + ((nint)p0 * mr), panel, tile, mPad, first, p.Beta);
                    }
                }

                if (first && prevCols > 0 && written < p.M)
                {
                    int count = jr + mr >= cols ? p.M - written : Math.Min(slice, p.M - written);
                    Transpose(prevStage + written, mPad, p.C + (written * p.Ldc) + prev, p.Ldc, prevCols, count);
                    written += count;
                }
            }
        }

        if (prevCols > 0 && written < p.M)
        {
            Transpose(prevStage + written, mPad, p.C + (written * p.Ldc) + prev, p.Ldc, prevCols, p.M - written);
        }
    }

    // dst[j, i] = src[i, j] for i < rows, j < cols (row strides ls and ld): 8 x 8 blocks in registers, a copy. The
    // outer loop runs over the rows of the matrix with the longer stride (C), so that each of its rows is written or read
    // whole before the next (its rows, a multiple of 4 KB apart, share L1 sets).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transpose(float* src, nint ls, float* dst, nint ld, int rows, int cols)
    {
        int r8 = 0, c8 = 0;
        if (Transpose8.IsSupported)
        {
            r8 = rows / 8 * 8;
            c8 = cols / 8 * 8;
            bool dstOuter = ld > ls;
            for (int u = 0; u < (dstOuter ? c8 : r8); u += 8)
            {
                for (int v = 0; v < (dstOuter ? r8 : c8); v += 8)
                {
                    int i = dstOuter ? v : u, j = dstOuter ? u : v;
                    float* d = dst + (j * ld) + i;
                    Transpose8.Load(src + (i * ls) + j, ls, 8, out var t0, out var t1, out var t2, out var t3, out var t4, out var t5, out var t6, out var t7);
                    t0.Store(d);
                    t1.Store(d + ld);
                    t2.Store(d + (2 * ld));
                    t3.Store(d + (3 * ld));
                    t4.Store(d + (4 * ld));
                    t5.Store(d + (5 * ld));
                    t6.Store(d + (6 * ld));
                    t7.Store(d + (7 * ld));
                }
            }
        }

        for (int i = 0; i < rows; i++)
        {
            for (int j = i < r8 ? c8 : 0; j < cols; j++)
            {
                dst[(j * ld) + i] = src[(i * ls) + j];
            }
        }
    }

    /// <summary>
    /// B too large to pack whole (the logits projection's [V, D]): tasks are [mt, nc] blocks of C, each packing its B
    /// panel once per K block and reusing it for every row of its block; M is split only when N gives too few tasks.
    /// </summary>
    private static void RunColumnBlocks(PanelShape s, Problem p)
    {
        int mc = s.Mc, nr = s.Nr;
        int nc = s.Nc;
        int nBlocks = (p.N + nc - 1) / nc;
        if (nBlocks < TargetTasks)
        {
            nc = Math.Min(nc, Math.Max(4 * nr, RoundUp((p.N + TargetTasks - 1) / TargetTasks, nr)));
            nBlocks = (p.N + nc - 1) / nc;
        }

        int mt = p.M;
        if (nBlocks < TargetTasks)
        {
            int split = (TargetTasks + nBlocks - 1) / nBlocks;
            mt = Math.Max(mc, RoundUp((p.M + split - 1) / split, mc));
        }

        int mBlocks = (p.M + mt - 1) / mt;
        ParallelWork.For(mBlocks * nBlocks, p.Threads, task =>
        {
            int i0 = task / nBlocks * mt, j0 = task % nBlocks * nc;
            int rows = Math.Min(mt, p.M - i0), cols = Math.Min(nc, p.N - j0);
            int kcStep = PanelShape.KcFor(p.K);
            float* pb = Workspace.Current.Get(WorkspaceSlot.PackedB, (long)RoundUp(cols, nr) * kcStep);
            for (int p0 = 0; p0 < p.K; p0 += kcStep)
            {
                int kc = Math.Min(kcStep, p.K - p0);
                Packing.PackB(p.TransposeB, p.B, p.Ldb, p0, kc, j0, cols, nr, pb);
                Rows(s, p, i0, rows, j0, cols, p0, kc, pb);
            }
        }, p.Inline);
    }

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
                        for (int r = pfRow, end = Math.Min(nextK, pfRow + perTile); r < end; r++)
                        {
                            Prefetch(next + (r * p.Lda), nextCount);
                        }

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
                            for (int r = 0, nh = Math.Min(mr, mRows - nir), nw = Math.Min(nr, cols - njr); r < nh; r++)
                            {
                                Prefetch(nc + (r * p.Ldc), nw);
                            }
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

    private static void Scale(int m, int n, float beta, float* c, nint ldc)
    {
        if (beta == 1)
        {
            return;
        }

        for (int i = 0; i < m; i++)
        {
            var row = new Span<float>(c + (i * ldc), n);
            if (beta == 0)
            {
                row.Clear();
            }
            else
            {
                for (int j = 0; j < n; j++)
                {
                    row[j] *= beta;
                }
            }
        }
    }

    private static void CheckMatrix(int length, int rows, int cols, int ld, bool read, string name, string ldName)
    {
        if (ld < Math.Max(1, cols))
        {
            throw new ArgumentOutOfRangeException(ldName, ld, $"The row stride must be at least max(1, {cols}) for {name} stored as [{rows}, {cols}].");
        }

        if (!read || rows == 0 || cols == 0)
        {
            return;
        }

        long needed = ((long)(rows - 1) * ld) + cols;
        if (length < needed)
        {
            throw new ArgumentException($"{name} has {length} elements but [{rows}, {cols}] with row stride {ld} needs {needed}.", name);
        }
    }

    /// <summary>One call's arguments, as the tasks read them.</summary>
    private readonly struct Problem(bool transposeA, bool transposeB, int m, int n, int k, float alpha, float* a, nint lda,
        float* b, nint ldb, float beta, float* c, nint ldc, int threads, bool inline)
    {
        public bool TransposeA { get; } = transposeA;

        public bool TransposeB { get; } = transposeB;

        public int M { get; } = m;

        public int N { get; } = n;

        public int K { get; } = k;

        public float Alpha { get; } = alpha;

        public float* A { get; } = a;

        public nint Lda { get; } = lda;

        public float* B { get; } = b;

        public nint Ldb { get; } = ldb;

        public float Beta { get; } = beta;

        public float* C { get; } = c;

        public nint Ldc { get; } = ldc;

        public int Threads { get; } = threads;

        public bool Inline { get; } = inline;
    }
}
