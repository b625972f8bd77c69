namespace Xent.LinearAlgebra;

/// <summary>
/// Single-precision matrix products, row-major, in the BLAS sgemm form: packed micro-panels (packing vectorised),
/// cache blocking (K in blocks of up to 1024, so that most products write C once; A in Mc-row blocks kept in L2) and
/// a register-blocked 6 x (2 vectors, 4 at 512 bits) FMA micro-kernel for the widest vectors <see cref="Simd"/> allows
/// (512, 256, 128 bits or scalar). Both cores work on row blocks of C over a B packed once (or, when B is large, on column
/// blocks that pack their own B panel), so no two threads write the same packed data.
/// </summary>
/// <remarks>
/// Each element of C is summed over k in blocks of 256 from k = 0, each block one chain of fused multiply-adds in k
/// order from 0 over alpha A[i, k] B[k, j] (alpha applied to A's values as they are packed), the first block's sum
/// s0 giving C = s0 or fma(C, beta, s0) and each later sum added in order (see <see cref="PanelKernels"/>). The
/// cache blocking, the tile, the thread, the vector width and the other rows and columns never change it, so
/// results are bitwise the same for any thread count, any M, N and position in the batch, and any width. The fused kernels' products (<see cref="Panels"/>) run the same tile and sums.
/// </remarks>
public static unsafe partial class MatMul
{
    // Below this many multiply-adds a call runs on the calling thread: fork/join would cost more than it saves.
    private const long ParallelThreshold = 1L << 21;

    // Aim for at least this many tasks so that both cores get work on small or skinny products.
    private const int TargetTasks = 8;

    /// <summary>
    /// C = alpha * op(A) * op(B) + beta * C, row-major. op(A) is [M, K], op(B) is [K, N], C is [M, N].
    /// A is stored [M, K] (lda &gt;= K), or [K, M] when transposeA (lda &gt;= M); likewise B is [K, N] or [N, K]. A
    /// matrix with no elements (M, N or K is 0) may have any stride &gt;= 0.
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
    /// <param name="c">C [M, N] with row stride ldc; must not overlap A or B (unless they are not read).</param>
    /// <param name="ldc">Row stride of C (&gt;= N).</param>
    /// <param name="maxDegreeOfParallelism">Most threads; -1 for all cores. The result does not depend on it.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative, a stride too small, or maxDegreeOfParallelism is 0 or below -1.</exception>
    /// <exception cref="ArgumentException">A span is shorter than its sizes and stride require, or C overlaps A or B
    /// where they are read.</exception>
    public static void Gemm(bool transposeA, bool transposeB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc,
        int maxDegreeOfParallelism = -1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        CheckThreads(maxDegreeOfParallelism);
        bool readsAB = k > 0 && alpha != 0;
        CheckMatrix(a.Length, transposeA ? k : m, transposeA ? m : k, lda, readsAB, nameof(a), nameof(lda));
        CheckMatrix(b.Length, transposeB ? n : k, transposeB ? k : n, ldb, readsAB, nameof(b), nameof(ldb));
        CheckMatrix(c.Length, m, n, ldc, true, nameof(c), nameof(ldc));
        if (m == 0 || n == 0)
        {
            return;
        }

        if (readsAB)
        {
            // C is written while A and B are still read (packed block by block, or read in place).
            Disjoint(c, m, n, ldc, a, transposeA ? k : m, transposeA ? m : k, lda, nameof(a));
            Disjoint(c, m, n, ldc, b, transposeB ? n : k, transposeB ? k : n, ldb, nameof(b));
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

    private static void CheckThreads(int maxDegreeOfParallelism)
    {
        if (maxDegreeOfParallelism == 0 || maxDegreeOfParallelism < -1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxDegreeOfParallelism), maxDegreeOfParallelism, "Must be -1 (all cores) or positive.");
        }
    }

    /// <summary>The elements a checked matrix [rows, cols] with row stride ld spans (both sizes at least 1).</summary>
    private static int Extent(int rows, int cols, int ld) => (int)(((long)(rows - 1) * ld) + cols);

    /// <summary>
    /// Throws when an element of C [m, n] (row stride ldc) is also one of the stored matrix [rows, cols] (row stride
    /// ld) named <paramref name="name"/>. Spans whose ranges overlap may still hold no common element: column blocks
    /// of one buffer with one row stride (C = [X | X W] written beside X). Those are told apart exactly; matrices of
    /// other strides whose ranges overlap are refused.
    /// </summary>
    private static void Disjoint(Span<float> c, int m, int n, int ldc, ReadOnlySpan<float> x, int rows, int cols, int ld, string name)
    {
        var written = c.Slice(0, Extent(m, n, ldc));
        var read = x.Slice(0, Extent(rows, cols, ld));
        if (!written.Overlaps(read))
        {
            return;
        }

        // d: where x starts, in elements from C's start (negative when C starts inside x).
        long bytes = System.Runtime.CompilerServices.Unsafe.ByteOffset(
            ref System.Runtime.InteropServices.MemoryMarshal.GetReference(written),
            ref System.Runtime.InteropServices.MemoryMarshal.GetReference(read));
        if (ld == ldc && bytes % sizeof(float) == 0)
        {
            // Rows i of C and i' of x meet when -cols < d + (i' - i) ld < n: is there such a t = i' - i?
            long d = bytes / sizeof(float), lo = FloorDiv(-cols - d, ld) + 1, hi = CeilDiv(n - d, ld) - 1;
            if (Math.Max(lo, -(m - 1)) > Math.Min(hi, rows - 1))
            {
                return;
            }
        }

        throw new ArgumentException($"c overlaps {name}: pass memory of its own.", nameof(c));
    }

    private static long FloorDiv(long a, long b) => a >= 0 ? a / b : -((-a + b - 1) / b);

    private static long CeilDiv(long a, long b) => -FloorDiv(-a, b);

    private static void CheckMatrix(int length, int rows, int cols, int ld, bool read, string name, string ldName)
    {
        if (rows == 0 || cols == 0)
        {
            // No element is ever addressed, so no stride is wrong but a negative one (callers pass 0 for M = 0 or K = 0).
            ArgumentOutOfRangeException.ThrowIfNegative(ld, ldName);
            return;
        }

        if (ld < cols)
        {
            throw new ArgumentOutOfRangeException(ldName, ld, $"The row stride must be at least {cols} for {name} stored as [{rows}, {cols}].");
        }

        if (!read)
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
