using Xent.Kernels;

namespace Xent.LinearAlgebra;

/// <content>
/// The general drivers: row blocks over a B packed once for all threads, or column blocks that pack their own B panel
/// when B is large.
/// </content>
public static unsafe partial class MatMul
{
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
            ParallelWork.For(packItems, p.Threads, new SharedPackItems(p, stripsPerItem, nr, k0, kc, pbShared), p.Inline);
            ParallelWork.For(rowTasks * colTasks, p.Threads, new SharedTasks(s, p, rowStrips, rowTasks, colTasks, strips, nr, k0, kc, ends, half, pbShared), p.Inline, ends);
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
        ParallelWork.For(mBlocks * nBlocks, p.Threads, new ColumnBlockTasks(s, p, nBlocks, mt, nc, nr), p.Inline);
    }

    private readonly struct SharedPackItems(Problem p, int stripsPerItem, int nr, int k0, int kc, nint pbShared) : IWorkItems
    {
        public void Run(int item)
        {
            int j0 = item * stripsPerItem * nr;
            Packing.PackB(p.TransposeB, p.B, p.Ldb, k0, kc, j0, Math.Min(stripsPerItem * nr, p.N - j0), nr, (float*)pbShared + ((nint)j0 * kc));
        }
    }

    private readonly struct SharedTasks(PanelShape s, Problem p, int rowStrips, int rowTasks, int colTasks, int strips, int nr, int k0, int kc,
        bool ends, int half, nint pbShared) : IWorkItems
    {
        public void Run(int t)
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
        }
    }

    private readonly struct ColumnBlockTasks(PanelShape s, Problem p, int nBlocks, int mt, int nc, int nr) : IWorkItems
    {
        public void Run(int task)
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
        }
    }
}
