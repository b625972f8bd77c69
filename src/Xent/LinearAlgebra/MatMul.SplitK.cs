using Xent.Kernels;

namespace Xent.LinearAlgebra;

/// <content>
/// 'tn' products over many rows (the weight gradients): every sum block of K a task with its own partial C, the
/// partials added into C in block order.
/// </content>
public static unsafe partial class MatMul
{
    // RunSplitK takes 'tn' products (A stored [K, M]) with K of at least SplitMinK whose partial sums, one C per sum block,
    // fit in SplitMaxFloats (16 MB): the weight gradients of small layers over many rows.
    private const int SplitMinK = 4 * PanelKernels.SumBlock;
    private const long SplitMaxFloats = 4L << 20;

    // Set only by benchmarks (XENT_AB=nosplitk), to time the other paths on the shapes RunSplitK takes.
    internal static bool DisableSplitK { get; set; } = Environment.GetEnvironmentVariable("XENT_AB") == "nosplitk";

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
        ParallelWork.For(blocks, p.Threads, new SplitBlocks(s, p, nr, size, partials), ends: ParallelWork.Ends);

        // C's rows in ranges, each element's partials added in block order (element-wise: the same bits at any width).
        int grain = Math.Max(1, (int)Math.Min(p.M, 4096 / Math.Max(1, p.N)));
        ParallelWork.ForRanges(p.M, grain, p.Threads, new SplitSums(p, blocks, size, partials));
    }

    private readonly struct SplitBlocks(PanelShape s, Problem p, int nr, long size, nint partials) : IWorkItems
    {
        public void Run(int block)
        {
            int p0 = block * PanelKernels.SumBlock, kc = Math.Min(PanelKernels.SumBlock, p.K - p0);
            float* pb = Workspace.Current.Get(WorkspaceSlot.PackedB, (long)RoundUp(p.N, nr) * kc);
            Packing.PackB(false, p.B, p.Ldb, p0, kc, 0, p.N, nr, pb);
            var part = new Problem(true, false, p.M, p.N, kc, p.Alpha, p.A + ((nint)p0 * p.Lda), p.Lda, p.B + ((nint)p0 * p.Ldb), p.Ldb,
                0, (float*)partials + (block * size), p.N, 1, true);
            Rows(s, part, 0, p.M, 0, p.N, 0, kc, pb);
        }
    }

    private readonly struct SplitSums(Problem p, int blocks, long size, nint partials) : IWorkRanges
    {
        public void Run(int start, int end)
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
        }
    }
}
