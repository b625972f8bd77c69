using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Xent.Kernels;

namespace Xent.LinearAlgebra;

/// <summary>
/// <see cref="MatMul.Gemm"/> with one row (M = 1: a token's products in cached decoding): B is streamed once as
/// stored, without the packed copy the blocked path makes, and each element is summed as there (blocks of
/// <see cref="PanelKernels.SumBlock"/> k, each one fma chain in k order, added in order to beta C), so a row gets the
/// bits it would get in any batch. Lanes hold 8 consecutive columns; B stored [N, K] is read in 8 x 8 blocks transposed in registers.
/// </summary>
internal static unsafe class Gemv
{
    private const int Lanes = 8;

    // Column groups of 8 summed side by side where B is stored [K, N]: each lane's sum is one FMA chain in k order (its
    // bits), so a single group waits on the FMA's latency at every k; four independent chains let the core overlap them.
    private const int Groups = 4;

    // Columns per work item at least and at most: each item streams its part of B in address order (see RowsOfB), so
    // fewer, longer items waste less of that; about four per thread balance the cores.
    private const int MinColumnsPerItem = 128, MaxColumnsPerItem = 2048;

    // Below this many multiply-adds (floats of B) a product runs on the calling thread. Far below MatMul's threshold:
    // a one-row product streams B from memory once, so a second core doubles its bandwidth from a few hundred KB on.
    private const long ParallelThreshold = 1L << 16;

    /// <summary>Whether a one-row product of <paramref name="n"/> x <paramref name="k"/> runs on the calling thread alone.</summary>
    public static bool Inline(int n, int k) =>
        (Grouped ? (long)n * k < ParallelThreshold : (long)n * k < 1L << 21) || Environment.ProcessorCount == 1;

    // Cleared only by the decode-limit benchmark (XENT_AB=gemv), to time one column group at a time and MatMul's
    // parallel threshold, as before the groups.
    internal static bool Grouped { get; set; } = true;

    // Cleared only by the decode-limit benchmark (XENT_AB=gemvpf), to time B stored [N, K] without its prefetch.
    internal static bool Prefetching { get; set; } = true;

    /// <summary>c[j] for j &lt; n over k &lt; K; a[p * aStride] is op(A)[0, p]; B as stored (see <see cref="MatMul.Gemm"/>).</summary>
    public static void Run(VectorWidth width, bool transposeB, int n, int k, float alpha, float* a, nint aStride,
        float* b, nint ldb, float beta, float* c, int maxDegreeOfParallelism, bool inline)
    {
        bool vector = width >= VectorWidth.V256 && Vector256.IsHardwareAccelerated && Transpose8.IsSupported;
        if (alpha != 1f || aStride != 1)
        {
            // x = alpha op(A)[0, p] once, contiguous, the value every sum takes (so the same bits): the column groups
            // then read each x from memory as they multiply, instead of holding 8 broadcasts in registers.
            float* x = Workspace.Current.Get(WorkspaceSlot.GemvRow, k);
            for (int p = 0; p < k; p++)
            {
                x[p] = alpha * a[p * aStride];
            }

            a = x;
        }

        int threads = inline ? 1 : maxDegreeOfParallelism < 0 ? Environment.ProcessorCount : maxDegreeOfParallelism;
        int columns = Math.Clamp(n / (4 * threads) / (2 * Lanes) * (2 * Lanes), MinColumnsPerItem, MaxColumnsPerItem);
        int items = (n + columns - 1) / columns;
        ParallelWork.For(items, maxDegreeOfParallelism, new ColumnItems(vector, transposeB, n, columns, k, a, b, ldb, beta, c), inline);
    }

    private readonly struct ColumnItems(bool vector, bool transposeB, int n, int columns, int k, float* a, float* b, nint ldb, float beta, float* c)
        : IWorkItems
    {
        public void Run(int item)
        {
            int j0 = item * columns, j1 = Math.Min(n, j0 + columns);
            Columns(vector, transposeB, j0, j1, k, a, b, ldb, beta, c);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Columns(bool vector, bool transposeB, int j0, int j1, int k, float* a, float* b, nint ldb, float beta, float* c)
    {
        const int block = PanelKernels.SumBlock;
        int j = j0;
        // Two groups side by side, except where B's rows are a multiple of 4 KB apart (ldb = 3072 in a GPT-2-small MLP's
        // second product): there each step's rows all fall in one set of the 8-way L1, and 16 of them evicted each
        // other's lines between the two halves of a step, so one group runs alone below (one Zen 4 core, [768, 3072]
        // in L3: 4.0 G multiply-adds a second with two groups, 7.4 with one).
        bool rowGroups = vector && transposeB && Grouped;
        for (; rowGroups && ldb % 1024 != 0 && j + (2 * Lanes) <= j1; j += 2 * Lanes)
        {
            float* next = Prefetching && j + (4 * Lanes) <= j1 ? b + ((j + (2 * Lanes)) * ldb) : null;
            Vector256<float> t0 = default, t1 = default;
            for (int q0 = 0; q0 < k; q0 += block)
            {
                int q1 = Math.Min(k, q0 + block);
                RowsOfB(q0, q1, k, a, b + (j * ldb), ldb, next, out var s0, out var s1);
                t0 = Add(q0, t0, s0, beta, c + j);
                t1 = Add(q0, t1, s1, beta, c + j + Lanes);
            }

            t0.Store(c + j);
            t1.Store(c + j + Lanes);
        }

        if (vector)
        {
            for (; Grouped && !transposeB && j + (Groups * Lanes) <= j1; j += Groups * Lanes)
            {
                Vector256<float> t0 = default, t1 = default, t2 = default, t3 = default;
                for (int q0 = 0; q0 < k; q0 += block)
                {
                    int q1 = Math.Min(k, q0 + block);
                    ColumnsOfB(q0, q1, a, b + j, ldb, out var s0, out var s1, out var s2, out var s3);
                    t0 = Add(q0, t0, s0, beta, c + j);
                    t1 = Add(q0, t1, s1, beta, c + j + Lanes);
                    t2 = Add(q0, t2, s2, beta, c + j + (2 * Lanes));
                    t3 = Add(q0, t3, s3, beta, c + j + (3 * Lanes));
                }

                t0.Store(c + j);
                t1.Store(c + j + Lanes);
                t2.Store(c + j + (2 * Lanes));
                t3.Store(c + j + (3 * Lanes));
            }

            for (; j + Lanes <= j1; j += Lanes)
            {
                float* next = rowGroups && Prefetching && j + (2 * Lanes) <= j1 ? b + ((j + Lanes) * ldb) : null;
                var total = Vector256<float>.Zero;
                for (int q0 = 0; q0 < k; q0 += block)
                {
                    int q1 = Math.Min(k, q0 + block);
                    var sum = transposeB ? RowsOfB(q0, q1, k, a, b + (j * ldb), ldb, next) : ColumnsOfB(q0, q1, a, b + j, ldb);
                    total = Add(q0, total, sum, beta, c + j);
                }

                total.Store(c + j);
            }
        }

        // Without AVX (Arm64, or x64 held to 128 bits): 8 columns at a time in scalars, 8 independent chains.
        for (; Grouped && j + Lanes <= j1; j += Lanes)
        {
            ScalarColumns(transposeB, j, k, a, b, ldb, beta, c);
        }

        for (; j < j1; j++)
        {
            float* bj = transposeB ? b + (j * ldb) : b + j;
            nint step = transposeB ? 1 : ldb;
            float total = 0;
            for (int q0 = 0; q0 < k; q0 += block)
            {
                float sum = 0;
                for (int p = q0; p < Math.Min(k, q0 + block); p++)
                {
                    sum = ScalarOps.MultiplyAdd(a[p], bj[p * step], sum);
                }

                total = Add(q0, total, sum, beta, c + j);
            }

            c[j] = total;
        }
    }

    // c[j .. j + 8) with each column's sums in scalars as the one-column loop below takes them (the same bits): 8 chains
    // side by side instead of one waiting on the multiply-add's latency.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScalarColumns(bool transposeB, int j, int k, float* a, float* b, nint ldb, float beta, float* c)
    {
        const int block = PanelKernels.SumBlock;
        nint column = transposeB ? ldb : 1, step = transposeB ? 1 : ldb;
        float* b0 = transposeB ? b + (j * ldb) : b + j;
        float t0 = 0, t1 = 0, t2 = 0, t3 = 0, t4 = 0, t5 = 0, t6 = 0, t7 = 0;
        for (int q0 = 0; q0 < k; q0 += block)
        {
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
            for (int p = q0, q1 = Math.Min(k, q0 + block); p < q1; p++)
            {
                float x = a[p];
                float* bp = b0 + (p * step);
                s0 = ScalarOps.MultiplyAdd(x, bp[0], s0);
                s1 = ScalarOps.MultiplyAdd(x, bp[column], s1);
                s2 = ScalarOps.MultiplyAdd(x, bp[2 * column], s2);
                s3 = ScalarOps.MultiplyAdd(x, bp[3 * column], s3);
                s4 = ScalarOps.MultiplyAdd(x, bp[4 * column], s4);
                s5 = ScalarOps.MultiplyAdd(x, bp[5 * column], s5);
                s6 = ScalarOps.MultiplyAdd(x, bp[6 * column], s6);
                s7 = ScalarOps.MultiplyAdd(x, bp[7 * column], s7);
            }

            t0 = Add(q0, t0, s0, beta, c + j);
            t1 = Add(q0, t1, s1, beta, c + j + 1);
            t2 = Add(q0, t2, s2, beta, c + j + 2);
            t3 = Add(q0, t3, s3, beta, c + j + 3);
            t4 = Add(q0, t4, s4, beta, c + j + 4);
            t5 = Add(q0, t5, s5, beta, c + j + 5);
            t6 = Add(q0, t6, s6, beta, c + j + 6);
            t7 = Add(q0, t7, s7, beta, c + j + 7);
        }

        c[j] = t0;
        c[j + 1] = t1;
        c[j + 2] = t2;
        c[j + 3] = t3;
        c[j + 4] = t4;
        c[j + 5] = t5;
        c[j + 6] = t6;
        c[j + 7] = t7;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Add(int q0, float total, float sum, float beta, float* c) =>
        q0 > 0 ? total + sum : beta == 0 ? sum : ScalarOps.MultiplyAdd(*c, beta, sum);

    // A sum block's sums added to the total in order: the first starts it (C = s, or fma(C, beta, s)).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Add(int q0, Vector256<float> total, Vector256<float> sum, float beta, float* c) =>
        q0 > 0 ? total + sum : beta == 0 ? sum : Vector256Ops.MultiplyAdd(Vector256.Load(c), Vector256.Create(beta), sum);

    // B stored [K, N]: the 8 columns of one k are contiguous.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static Vector256<float> ColumnsOfB(int p0, int p1, float* a, float* b, nint ldb)
    {
        var acc = Vector256<float>.Zero;
        for (int p = p0; p < p1; p++)
        {
            acc = Vector256Ops.MultiplyAdd(Vector256.Create(a[p]), Vector256.Load(b + (p * ldb)), acc);
        }

        return acc;
    }

    // B stored [K, N], four groups of 8 columns: one broadcast of A's value feeds four chains.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ColumnsOfB(int p0, int p1, float* a, float* b, nint ldb,
        out Vector256<float> s0, out Vector256<float> s1, out Vector256<float> s2, out Vector256<float> s3)
    {
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        for (int p = p0; p < p1; p++)
        {
            var x = Vector256.Create(a[p]);
            float* bp = b + (p * ldb);
            acc0 = Vector256Ops.MultiplyAdd(x, Vector256.Load(bp), acc0);
            acc1 = Vector256Ops.MultiplyAdd(x, Vector256.Load(bp + Lanes), acc1);
            acc2 = Vector256Ops.MultiplyAdd(x, Vector256.Load(bp + (2 * Lanes)), acc2);
            acc3 = Vector256Ops.MultiplyAdd(x, Vector256.Load(bp + (3 * Lanes)), acc3);
        }

        (s0, s1, s2, s3) = (acc0, acc1, acc2, acc3);
    }

    // B stored [N, K]: 8 rows (columns of op(B)) read 16 k a step, 8 k at a time transposed, so each lane keeps its k
    // order. Each step uses up its rows' 64 bytes (a cache line when B is aligned) and brings a share of the next rows
    // (next: the group after this one, or null) into L2 in address order, so that B streams from memory as one
    // sequential read instead of one stream a row: a row's lines alone, 8 or 32 short streams a few KB long, were
    // followed poorly by the hardware prefetchers, and prefetching each row ahead on its own left them at about 17 GB/s
    // a core. A cached GPT-2-small token's products on 2 threads (Zen 4, 512 bits, `decode-limit 30 2`, the two ways
    // interleaved in one process): 14.4 ms with four groups of rows each prefetched 512 bytes ahead, 10.9 ms this way
    // (17.1 and 15.3 ms in a spell of slower memory).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static Vector256<float> RowsOfB(int p0, int p1, int k, float* a, float* b, nint ldb, float* next)
    {
        var acc = Vector256<float>.Zero;
        nint share = PrefetchShare(Lanes, k, ldb, next);
        int p = p0;
        for (; p + (2 * Lanes) <= p1; p += 2 * Lanes)
        {
            PrefetchNext(next, p, share);
            acc = Step(b + p + Lanes, ldb, a + p + Lanes, Step(b + p, ldb, a + p, acc));
        }

        for (; p + Lanes <= p1; p += Lanes)
        {
            acc = Step(b + p, ldb, a + p, acc);
        }

        for (; p < p1; p++)
        {
            acc = Vector256Ops.MultiplyAdd(Vector256.Create(a[p]), Column(b + p, ldb), acc);
        }

        return acc;
    }

    // Two groups of 8 rows as above: two independent chains, which the core overlaps where one group waits on the
    // multiply-add's latency (one Zen 4 core, B in L2 or L3: 11 G multiply-adds a second against 7.5).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowsOfB(int p0, int p1, int k, float* a, float* b, nint ldb, float* next, out Vector256<float> s0, out Vector256<float> s1)
    {
        Vector256<float> acc0 = default, acc1 = default;
        nint group = Lanes * ldb, share = PrefetchShare(2 * Lanes, k, ldb, next);
        int p = p0;
        for (; p + (2 * Lanes) <= p1; p += 2 * Lanes)
        {
            PrefetchNext(next, p, share);
            acc0 = Step(b + p + Lanes, ldb, a + p + Lanes, Step(b + p, ldb, a + p, acc0));
            acc1 = Step(b + group + p + Lanes, ldb, a + p + Lanes, Step(b + group + p, ldb, a + p, acc1));
        }

        for (; p + Lanes <= p1; p += Lanes)
        {
            acc0 = Step(b + p, ldb, a + p, acc0);
            acc1 = Step(b + group + p, ldb, a + p, acc1);
        }

        for (; p < p1; p++)
        {
            var x = Vector256.Create(a[p]);
            acc0 = Vector256Ops.MultiplyAdd(x, Column(b + p, ldb), acc0);
            acc1 = Vector256Ops.MultiplyAdd(x, Column(b + group + p, ldb), acc1);
        }

        (s0, s1) = (acc0, acc1);
    }

    // Bytes of the next rows each 16-k step brings into L2: their rows * ldb floats over the k / 16 steps of a group, in
    // whole lines (0 without a next group, or where x86's prefetch is missing).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nint PrefetchShare(int rows, int k, nint ldb, float* next) =>
        next == null || !Sse.IsSupported ? 0 : ((rows * ldb * sizeof(float) * 2 * Lanes / k) + 63) & ~63;

    // The step at k = p's share of the next rows (prefetches never fault, so the last share may run past them).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchNext(float* next, int p, nint share)
    {
        byte* ahead = (byte*)next + (p / (2 * Lanes) * share);
        for (nint o = 0; o < share; o += 64)
        {
            Sse.Prefetch1(ahead + o);
        }
    }

    // One 8 x 8 block of B (8 rows, 8 k) transposed and added to the rows' chains in k order.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Step(float* b, nint ldb, float* x, Vector256<float> acc)
    {
        Transpose8.Load(b, ldb, Lanes, out var t0, out var t1, out var t2, out var t3, out var t4, out var t5, out var t6, out var t7);
        acc = Vector256Ops.MultiplyAdd(Vector256.Create(x[0]), t0, acc);
        acc = Vector256Ops.MultiplyAdd(Vector256.Create(x[1]), t1, acc);
        acc = Vector256Ops.MultiplyAdd(Vector256.Create(x[2]), t2, acc);
        acc = Vector256Ops.MultiplyAdd(Vector256.Create(x[3]), t3, acc);
        acc = Vector256Ops.MultiplyAdd(Vector256.Create(x[4]), t4, acc);
        acc = Vector256Ops.MultiplyAdd(Vector256.Create(x[5]), t5, acc);
        acc = Vector256Ops.MultiplyAdd(Vector256.Create(x[6]), t6, acc);
        return Vector256Ops.MultiplyAdd(Vector256.Create(x[7]), t7, acc);
    }

    // The k-th value of 8 rows of B, ldb apart.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Column(float* b, nint ldb) =>
        Vector256.Create(b[0], b[ldb], b[2 * ldb], b[3 * ldb], b[4 * ldb], b[5 * ldb], b[6 * ldb], b[7 * ldb]);
}
