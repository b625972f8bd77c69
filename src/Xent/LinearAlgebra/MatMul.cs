using Xent.Kernels;

namespace Xent.LinearAlgebra;

/// <summary>
/// Single-precision matrix products, row-major, in the BLAS sgemm form: packed panels, cache blocking
/// (K in blocks of 256, M and N in fixed blocks that become parallel tasks) and a register-blocked FMA micro-kernel
/// for the widest vectors <see cref="Simd"/> allows (512, 256, 128 bits or scalar).
/// </summary>
/// <remarks>
/// Each element of C is accumulated over k in increasing order, in blocks of 256 whose partial sums are added to C
/// in order; the task a tile falls in never changes that, so results are bitwise the same for any thread count.
/// </remarks>
public static unsafe class MatMul
{
    // Below this many multiply-adds a call runs on the calling thread: fork/join would cost more than it saves.
    private const long ParallelThreshold = 1L << 21;

    // Aim for at least this many tasks so that both cores get work on small or skinny products.
    private const int TargetTasks = 8;

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

            var shape = KernelShape.For(Simd.Width);
            Run(shape, transposeA, transposeB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, maxDegreeOfParallelism);
        }
    }

    /// <summary>
    /// One micro-tile: C[rows, cols] = alpha * A strip * B strip + beta * C (beta = 0 does not read C), where A(i, p)
    /// is a[i * ars + p * aks] and B(p, j) is b[p * bks + j]. Full tiles go straight to the kernel; edge tiles are
    /// computed as full tiles from zero-padded copies (unless the operand is already padded) and the valid part
    /// copied out, with the same arithmetic, so an element's value never depends on the tile it falls in.
    /// </summary>
    internal static void MicroTile(in KernelShape s, int rows, int cols, int kc, float* a, nint ars, nint aks, bool aPadded,
        float* b, nint bks, bool bPadded, float* c, nint ldc, float alpha, float beta)
    {
        int mr = s.Mr, nr = s.Nr;
        if (rows == mr && cols == nr)
        {
            s.Kernel(kc, a, ars, aks, b, bks, c, ldc, alpha, beta);
            return;
        }

        var ws = Workspace.Current;
        float* tile = ws.Get(WorkspaceSlot.EdgeTile, ((long)mr * nr) + ((long)(mr + nr) * kc));
        if (rows < mr && !aPadded)
        {
            float* pa = tile + (mr * nr);
            for (int p = 0; p < kc; p++)
            {
                for (int i = 0; i < mr; i++)
                {
                    pa[(p * mr) + i] = i < rows ? a[(i * ars) + (p * aks)] : 0;
                }
            }

            a = pa;
            ars = 1;
            aks = mr;
        }

        if (cols < nr && !bPadded)
        {
            float* pb = tile + (mr * nr) + (mr * kc);
            for (int p = 0; p < kc; p++)
            {
                for (int j = 0; j < nr; j++)
                {
                    pb[(p * nr) + j] = j < cols ? b[(p * bks) + j] : 0;
                }
            }

            b = pb;
            bks = nr;
        }

        s.Kernel(kc, a, ars, aks, b, bks, tile, nr, alpha, 0);
        for (int i = 0; i < rows; i++)
        {
            float* ci = c + (i * ldc);
            float* ti = tile + (i * nr);
            for (int j = 0; j < cols; j++)
            {
                ci[j] = beta == 0 ? ti[j] : MathF.FusedMultiplyAdd(ci[j], beta, ti[j]);
            }
        }
    }

    /// <summary>
    /// A block product for fused kernels: C[rows, cols] = A * B + beta * C over K in blocks of
    /// <see cref="KernelShape.Kc"/> (later blocks add to C), where A(i, p) = a[i * ars + p * aks] and B is either
    /// packed in Nr-column strips (strip s at b + s * bStripStride, k steps bks apart) or, when bStripStride is 0,
    /// row-major with k steps bks apart. This is how the fused cross-entropy computes one logits tile into a small
    /// buffer (then runs its epilogue on it) and accumulates its gradient products.
    /// </summary>
    internal static void Block(in KernelShape s, int rows, int cols, int k, float* a, nint ars, nint aks, bool aPadded,
        float* b, nint bks, nint bStripStride, bool bPadded, float* c, nint ldc, float beta)
    {
        int mr = s.Mr, nr = s.Nr;
        for (int p0 = 0; p0 < k; p0 += KernelShape.Kc)
        {
            int kc = Math.Min(KernelShape.Kc, k - p0);
            float betaBlock = p0 == 0 ? beta : 1;
            for (int jr = 0; jr < cols; jr += nr)
            {
                float* bs = (bStripStride == 0 ? b + jr : b + (jr / nr * bStripStride)) + (p0 * bks);
                nint bStep = bks;
                bool padded = bPadded;
                int w = Math.Min(nr, cols - jr);
                if (bStripStride == 0 && rows > mr)
                {
                    // Row-major B: its k steps are whole rows apart (a new page every step or two for wide rows);
                    // a contiguous copy of the strip is cheap next to the rows / Mr micro-tiles that reuse it.
                    float* packed = Workspace.Current.Get(WorkspaceSlot.BlockStrip, (long)kc * nr);
                    Packing.PackB(false, b, bks, p0, kc, jr, w, nr, packed);
                    bs = packed;
                    (bStep, padded) = (nr, true);
                }

                for (int ir = 0; ir < rows; ir += mr)
                {
                    MicroTile(s, Math.Min(mr, rows - ir), w, kc, a + (ir * ars) + (p0 * aks), ars, aks, aPadded,
                        bs, bStep, padded, c + (ir * ldc) + jr, ldc, 1, betaBlock);
                }
            }
        }
    }

    /// <summary>The blocked product on raw pointers (arguments already checked, K &gt; 0, alpha != 0).</summary>
    internal static void Run(KernelShape shape, bool transposeA, bool transposeB, int m, int n, int k, float alpha,
        float* a, nint lda, float* b, nint ldb, float beta, float* c, nint ldc, int maxDegreeOfParallelism)
    {
        // Tasks are [mt, nc] blocks of C. A task packs its B panel once per K block and reuses it for every Mc block
        // of its rows; M is split across tasks only when N alone gives too few tasks.
        int mc = shape.Mc, nr = shape.Nr;
        int nc = shape.Nc;
        int nBlocks = (n + nc - 1) / nc;
        if (nBlocks < TargetTasks)
        {
            nc = Math.Min(nc, Math.Max(4 * nr, RoundUp((n + TargetTasks - 1) / TargetTasks, nr)));
            nBlocks = (n + nc - 1) / nc;
        }

        int mt = m;
        if (nBlocks < TargetTasks)
        {
            int split = (TargetTasks + nBlocks - 1) / nBlocks;
            mt = Math.Max(mc, RoundUp((m + split - 1) / split, mc));
        }

        int mBlocks = (m + mt - 1) / mt;
        int tasks = mBlocks * nBlocks;
        long work = (long)m * n * k;
        nint ia = (nint)a, ib = (nint)b, ic = (nint)c;
        ParallelWork.For(tasks, maxDegreeOfParallelism, t =>
            RunTask(shape, t, nBlocks, mt, nc, transposeA, transposeB, m, n, k, alpha, (float*)ia, lda, (float*)ib, ldb, beta, (float*)ic, ldc),
            inline: work < ParallelThreshold || Environment.ProcessorCount == 1);
    }

    internal static int RoundUp(int x, int multiple) => (x + multiple - 1) / multiple * multiple;

    private static void RunTask(in KernelShape s, int task, int nBlocks, int mt, int nc, bool transposeA, bool transposeB,
        int m, int n, int k, float alpha, float* a, nint lda, float* b, nint ldb, float beta, float* c, nint ldc)
    {
        int i0 = task / nBlocks * mt, j0 = task % nBlocks * nc;
        int rows = Math.Min(mt, m - i0), cols = Math.Min(nc, n - j0);
        int mr = s.Mr, nr = s.Nr, mc = s.Mc;
        var ws = Workspace.Current;
        float* pa = ws.Get(WorkspaceSlot.PackedA, (long)mc * KernelShape.Kc);
        float* pb = ws.Get(WorkspaceSlot.PackedB, (long)RoundUp(cols, nr) * KernelShape.Kc);
        for (int p0 = 0; p0 < k; p0 += KernelShape.Kc)
        {
            int kc = Math.Min(KernelShape.Kc, k - p0);
            Packing.PackB(transposeB, b, ldb, p0, kc, j0, cols, nr, pb);
            float betaBlock = p0 == 0 ? beta : 1;
            for (int ib = 0; ib < rows; ib += mc)
            {
                int mRows = Math.Min(mc, rows - ib);

                // Row-major A is read in place (Mr row streams, k contiguous): packing it would cost a copy of A per
                // N block. Transposed A is packed, so that the kernel's k steps do not stride across rows.
                float* ab;
                nint ars, aks;
                bool aPadded = PackedA(transposeA);
                if (aPadded)
                {
                    Packing.PackA(transposeA, a, lda, i0 + ib, mRows, p0, kc, mr, pa);
                    ab = pa;
                    (ars, aks) = (1, mr);
                }
                else
                {
                    ab = a + ((i0 + ib) * lda) + p0;
                    (ars, aks) = (lda, 1);
                }

                for (int jr = 0; jr < cols; jr += nr)
                {
                    float* bs = pb + ((nint)jr * kc);
                    for (int ir = 0; ir < mRows; ir += mr)
                    {
                        MicroTile(s, Math.Min(mr, mRows - ir), Math.Min(nr, cols - jr), kc, ab + (ir * (aPadded ? kc : ars)), ars, aks, aPadded,
                            bs, nr, true, c + ((i0 + ib + ir) * ldc) + j0 + jr, ldc, alpha, betaBlock);
                    }
                }
            }
        }
    }

    private static bool PackedA(bool transposeA) => transposeA;

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
}
