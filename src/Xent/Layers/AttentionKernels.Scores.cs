using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Xent.Kernels;

namespace Xent.Layers;

/// <content>
/// The scores: rows of q times K^T, and in the backward dP as rows of dO times V^T, four rows by two column vectors at
/// a time.
/// </content>
internal static partial class AttentionKernels
{
    /// <summary>
    /// For i in [0, m), m &lt;= 4: y_i[j] (row stride ys) = alpha sum_p x_i[p] mt[p ld + j] (x_i = x[i xs ..] [hs])
    /// for j in [0, min(cap, t + i + 1 rounded up to whole vectors of the width)): the rows t .. t + m - 1 of causal
    /// scores, as <see cref="SpanMath.RowTimesMatrix"/> gives them row by row over those lengths.
    /// </summary>
    public static void RowsTimesMatrix(float alpha, ref float x, int xs, int hs, ref float mt, int ld, ref float y, int ys,
        int m, int t, int cap, VectorWidth width)
    {
        switch (width)
        {
            case VectorWidth.V512:
                RowsTimesMatrix<Vector512Ops, Vector512<float>>(alpha, ref x, xs, hs, ref mt, ld, ref y, ys, m, t, cap);
                break;
            case VectorWidth.V256:
                RowsTimesMatrix<Vector256Ops, Vector256<float>>(alpha, ref x, xs, hs, ref mt, ld, ref y, ys, m, t, cap);
                break;
            case VectorWidth.V128:
                RowsTimesMatrix<Vector128Ops, Vector128<float>>(alpha, ref x, xs, hs, ref mt, ld, ref y, ys, m, t, cap);
                break;
            default:
                RowsTimesMatrix<ScalarOps, float>(alpha, ref x, xs, hs, ref mt, ld, ref y, ys, m, t, cap);
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void RowsTimesMatrix<TOps, TV>(float alpha, ref float x, int xs, int hs, ref float mt, int ld, ref float y, int ys,
        int m, int t, int cap)
        where TOps : IVectorOps<TV>
        where TV : struct
    {
        TV scale = TOps.Create(alpha);
        int j = 0, length = Math.Min(cap, (t + TOps.Count) / TOps.Count * TOps.Count);
        if (m == 4)
        {
            // Columns every row has, two vectors at a time: eight chains, each load of x shared by two columns and
            // each load of mt by four rows (each element still summed alone over p from 0, then scaled).
            for (; j + (2 * TOps.Count) <= length; j += 2 * TOps.Count)
            {
                TV a0 = TOps.Create(0f), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
                for (int p = 0; p < hs; p++)
                {
                    ref float mrow = ref Unsafe.Add(ref mt, ((nint)p * ld) + j);
                    TV mp = TOps.Load(ref mrow, 0), mq = TOps.Load(ref mrow, TOps.Count);
                    TV x0 = TOps.Create(Unsafe.Add(ref x, p)), x1 = TOps.Create(Unsafe.Add(ref x, xs + p));
                    TV x2 = TOps.Create(Unsafe.Add(ref x, (2 * xs) + p)), x3 = TOps.Create(Unsafe.Add(ref x, (3 * xs) + p));
                    a0 = TOps.MultiplyAdd(x0, mp, a0);
                    a1 = TOps.MultiplyAdd(x1, mp, a1);
                    a2 = TOps.MultiplyAdd(x2, mp, a2);
                    a3 = TOps.MultiplyAdd(x3, mp, a3);
                    b0 = TOps.MultiplyAdd(x0, mq, b0);
                    b1 = TOps.MultiplyAdd(x1, mq, b1);
                    b2 = TOps.MultiplyAdd(x2, mq, b2);
                    b3 = TOps.MultiplyAdd(x3, mq, b3);
                }

                TOps.Store(TOps.Multiply(a0, scale), ref y, j);
                TOps.Store(TOps.Multiply(a1, scale), ref y, ys + j);
                TOps.Store(TOps.Multiply(a2, scale), ref y, (2 * (nint)ys) + j);
                TOps.Store(TOps.Multiply(a3, scale), ref y, (3 * (nint)ys) + j);
                TOps.Store(TOps.Multiply(b0, scale), ref y, j + TOps.Count);
                TOps.Store(TOps.Multiply(b1, scale), ref y, ys + j + TOps.Count);
                TOps.Store(TOps.Multiply(b2, scale), ref y, (2 * (nint)ys) + j + TOps.Count);
                TOps.Store(TOps.Multiply(b3, scale), ref y, (3 * (nint)ys) + j + TOps.Count);
            }

            // Then one vector at a time: four chains sharing each load of mt.
            for (; j + TOps.Count <= length; j += TOps.Count)
            {
                TV a0 = TOps.Create(0f), a1 = a0, a2 = a0, a3 = a0;
                for (int p = 0; p < hs; p++)
                {
                    TV mp = TOps.Load(ref mt, ((nint)p * ld) + j);
                    a0 = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref x, p)), mp, a0);
                    a1 = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref x, xs + p)), mp, a1);
                    a2 = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref x, (2 * xs) + p)), mp, a2);
                    a3 = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref x, (3 * xs) + p)), mp, a3);
                }

                TOps.Store(TOps.Multiply(a0, scale), ref y, j);
                TOps.Store(TOps.Multiply(a1, scale), ref y, ys + j);
                TOps.Store(TOps.Multiply(a2, scale), ref y, (2 * (nint)ys) + j);
                TOps.Store(TOps.Multiply(a3, scale), ref y, (3 * (nint)ys) + j);
            }
        }

        for (int i = 0; i < m; i++)
        {
            ref float xi = ref Unsafe.Add(ref x, i * xs);
            int end = Math.Min(cap, (t + i + TOps.Count) / TOps.Count * TOps.Count);
            int k = j;
            for (; k + TOps.Count <= end; k += TOps.Count)
            {
                TV acc = TOps.Create(0f);
                for (int p = 0; p < hs; p++)
                {
                    acc = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref xi, p)), TOps.Load(ref mt, ((nint)p * ld) + k), acc);
                }

                TOps.Store(TOps.Multiply(acc, scale), ref y, ((nint)i * ys) + k);
            }

            // A row ending at cap inside a vector: its last columns as the scalar lanes of a row loop.
            for (; k < end; k++)
            {
                float acc = 0;
                for (int p = 0; p < hs; p++)
                {
                    acc = ScalarOps.MultiplyAdd(Unsafe.Add(ref xi, p), Unsafe.Add(ref mt, ((nint)p * ld) + k), acc);
                }

                Unsafe.Add(ref y, ((nint)i * ys) + k) = acc * alpha;
            }
        }
    }
}
