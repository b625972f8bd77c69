using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Xent.Kernels;

namespace Xent.LinearAlgebra;

/// <content>
/// Few rows with B stored [N, K] (the forward products and the head at small N): the operands swap roles, op(A)^T
/// packed as the B operand and B's rows read in place, C^T staged and transposed into C.
/// </content>
public static unsafe partial class MatMul
{
    // Products with at most this many rows and B stored [N, K] swap the operands' roles (see RunSwapped), which stage C^T
    // this many columns at a time and run K in blocks of at most SwapKc.
    private const int SwapRows = 256;
    private const int SwapColumns = 48;
    private const int SwapKc = 768;

    // Set only by the gemm-ab benchmark, to time the previous paths for few rows: the packed-B path on the shapes the
    // swapped path takes, and TargetTasks row blocks instead of one per thread in RunSharedB.
    internal static bool DisableSwap { get; set; }

    // Whether RunSwapped's tiles prefetch the next strip's rows of B; cleared only by the gemm-ab benchmark (XENT_AB=swappf
    // or all).
    internal static bool SwapPrefetch { get; set; } = true;

    // Whether RunSwapped's tiles prefetch the rows of C of the next slice transposed into C; cleared only by the gemm-ab
    // benchmark (XENT_AB=swapc).
    internal static bool SwapPrefetchC { get; set; } = true;

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
        ParallelWork.For(panels, p.Threads, new SwapPackItems(p, nr, kc, paShared), p.Inline);
        ParallelWork.For(tasks, p.Threads, new SwapTasks(s, p, chunks, tasks, panels, nr, kcStep, paShared), p.Inline);
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
                    PrefetchRows(p.B + (nj * p.Ldb) + np0 + f0, p.Ldb, 0, nRows, f1 - f0);

                    PrefetchRows(p.C + prev, p.Ldc, written + (int)((long)t * sliceRows / tiles), written + (int)((long)(t + 1) * sliceRows / tiles), prevCols);

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

    private readonly struct SwapPackItems(Problem p, int nr, int kc, nint paShared) : IWorkItems
    {
        public void Run(int q)
        {
            int i0 = q * nr;
            Packing.PackB(!p.TransposeA, p.A, p.Lda, 0, kc, i0, Math.Min(nr, p.M - i0), nr, (float*)paShared + ((nint)i0 * kc), p.Alpha);
        }
    }

    private readonly struct SwapTasks(PanelShape s, Problem p, int chunks, int tasks, int panels, int nr, int kcStep, nint paShared) : IWorkItems
    {
        public void Run(int t)
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
        }
    }
}
