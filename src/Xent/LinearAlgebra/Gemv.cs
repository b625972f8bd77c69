using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
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

    // Columns per work item: long enough to stream B in large pieces, short enough to give both cores work.
    private const int ColumnsPerItem = 256;

    /// <summary>c[j] for j &lt; n over k &lt; K; a[p * aStride] is op(A)[0, p]; B as stored (see <see cref="MatMul.Gemm"/>).</summary>
    public static void Run(VectorWidth width, bool transposeB, int n, int k, float alpha, float* a, nint aStride,
        float* b, nint ldb, float beta, float* c, int maxDegreeOfParallelism, bool inline)
    {
        bool vector = width >= VectorWidth.V256 && Vector256.IsHardwareAccelerated && Transpose8.IsSupported;
        nint ia = (nint)a, ib = (nint)b, ic = (nint)c;
        ParallelWork.For((n + ColumnsPerItem - 1) / ColumnsPerItem, maxDegreeOfParallelism, item =>
        {
            int j0 = item * ColumnsPerItem, j1 = Math.Min(n, j0 + ColumnsPerItem);
            Columns(vector, transposeB, j0, j1, k, alpha, (float*)ia, aStride, (float*)ib, ldb, beta, (float*)ic);
        }, inline);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Columns(bool vector, bool transposeB, int j0, int j1, int k, float alpha, float* a, nint aStride,
        float* b, nint ldb, float beta, float* c)
    {
        const int block = PanelKernels.SumBlock;
        int j = j0;
        if (vector)
        {
            for (; j + Lanes <= j1; j += Lanes)
            {
                var total = Vector256<float>.Zero;
                for (int q0 = 0; q0 < k; q0 += block)
                {
                    int q1 = Math.Min(k, q0 + block);
                    var sum = transposeB ? RowsOfB(q0, q1, alpha, a, aStride, b + (j * ldb), ldb) : ColumnsOfB(q0, q1, alpha, a, aStride, b + j, ldb);
                    total = q0 > 0 ? total + sum : beta == 0 ? sum : Vector256Ops.MultiplyAdd(Vector256.Load(c + j), Vector256.Create(beta), sum);
                }

                total.Store(c + j);
            }
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
                    sum = ScalarOps.MultiplyAdd(alpha * a[p * aStride], bj[p * step], sum);
                }

                total = q0 > 0 ? total + sum : beta == 0 ? sum : ScalarOps.MultiplyAdd(c[j], beta, sum);
            }

            c[j] = total;
        }
    }

    // B stored [K, N]: the 8 columns of one k are contiguous.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static Vector256<float> ColumnsOfB(int p0, int p1, float alpha, float* a, nint aStride, float* b, nint ldb)
    {
        var acc = Vector256<float>.Zero;
        for (int p = p0; p < p1; p++)
        {
            acc = Vector256Ops.MultiplyAdd(Vector256.Create(alpha * a[p * aStride]), Vector256.Load(b + (p * ldb)), acc);
        }

        return acc;
    }

    // B stored [N, K]: 8 rows (columns of op(B)) read 8 k at a time and transposed, so each lane keeps its k order.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static Vector256<float> RowsOfB(int p0, int p1, float alpha, float* a, nint aStride, float* b, nint ldb)
    {
        var acc = Vector256<float>.Zero;
        int p = p0;
        for (; p + Lanes <= p1; p += Lanes)
        {
            Transpose8.Load(b + p, ldb, Lanes, out var t0, out var t1, out var t2, out var t3, out var t4, out var t5, out var t6, out var t7);
            float* ap = a + (p * aStride);
            acc = Vector256Ops.MultiplyAdd(Vector256.Create(alpha * ap[0]), t0, acc);
            acc = Vector256Ops.MultiplyAdd(Vector256.Create(alpha * ap[aStride]), t1, acc);
            acc = Vector256Ops.MultiplyAdd(Vector256.Create(alpha * ap[2 * aStride]), t2, acc);
            acc = Vector256Ops.MultiplyAdd(Vector256.Create(alpha * ap[3 * aStride]), t3, acc);
            acc = Vector256Ops.MultiplyAdd(Vector256.Create(alpha * ap[4 * aStride]), t4, acc);
            acc = Vector256Ops.MultiplyAdd(Vector256.Create(alpha * ap[5 * aStride]), t5, acc);
            acc = Vector256Ops.MultiplyAdd(Vector256.Create(alpha * ap[6 * aStride]), t6, acc);
            acc = Vector256Ops.MultiplyAdd(Vector256.Create(alpha * ap[7 * aStride]), t7, acc);
        }

        for (; p < p1; p++)
        {
            var column = Vector256.Create(b[p], b[ldb + p], b[(2 * ldb) + p], b[(3 * ldb) + p], b[(4 * ldb) + p], b[(5 * ldb) + p], b[(6 * ldb) + p], b[(7 * ldb) + p]);
            acc = Vector256Ops.MultiplyAdd(Vector256.Create(alpha * a[p * aStride]), column, acc);
        }

        return acc;
    }
}
