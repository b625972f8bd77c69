using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Xent.Kernels;

namespace Xent.Layers;

/// <content>
/// The causal softmax of score rows, forward (one row or four at a time) and backward.
/// </content>
internal static partial class AttentionKernels
{
    /// <summary>
    /// The softmax backward of rows t .. t + m - 1 (m &lt;= 4, row stride seq, t a multiple of 4): with n_i = t + i + 1,
    /// dot_i = sum_{k &lt; n_i} p_i[k] d_i[k] and d_i[k] = (scale p_i[k]) (d_i[k] - dot_i) for k &lt; n_i. The sums run in
    /// whole vectors, the last one masked to the row's n_i entries (no scalar tail; the bits depend on n_i and the
    /// width only); entries from n_i up to the whole vector are overwritten with values nobody reads.
    /// </summary>
    public static void SoftmaxBackward(ref float p, ref float d, int seq, int t, int m, float scale, VectorWidth width)
    {
        switch (width)
        {
            case VectorWidth.V512:
                SoftmaxBackward<Vector512Ops, Vector512<float>>(ref p, ref d, seq, t, m, scale);
                break;
            case VectorWidth.V256:
                SoftmaxBackward<Vector256Ops, Vector256<float>>(ref p, ref d, seq, t, m, scale);
                break;
            case VectorWidth.V128:
                SoftmaxBackward<Vector128Ops, Vector128<float>>(ref p, ref d, seq, t, m, scale);
                break;
            default:
                SoftmaxBackward<ScalarOps, float>(ref p, ref d, seq, t, m, scale);
                break;
        }
    }

    /// <summary>
    /// Softmax of row[0..t] in place, entries after t set to 0, in one call: <see cref="SpanMath.Softmax{TOps, TV}"/>
    /// at the width over t + 1 rounded up to whole vectors with -inf after t, so the same operations and bits as
    /// <see cref="CausalSoftmaxScalar"/>'s SpanMath passes, for rows of at least one vector.
    /// </summary>
    /// <returns>False (nothing done) when the row is shorter than one vector of the width.</returns>
    public static bool CausalSoftmax(ref float row, int t, int seq, VectorWidth width)
    {
        switch (width)
        {
            case VectorWidth.V512 when seq >= Vector512Ops.Count:
                CausalSoftmax<Vector512Ops, Vector512<float>>(ref row, t, seq);
                return true;
            case VectorWidth.V256 when seq >= Vector256Ops.Count:
                CausalSoftmax<Vector256Ops, Vector256<float>>(ref row, t, seq);
                return true;
            case VectorWidth.V128 when seq >= Vector128Ops.Count:
                CausalSoftmax<Vector128Ops, Vector128<float>>(ref row, t, seq);
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// <see cref="CausalSoftmax(ref float, int, int, VectorWidth)"/> of rows t .. t + 3 (row stride seq, t a multiple
    /// of 4), interleaved so that the four rows' reductions overlap; the same bits row by row.
    /// </summary>
    public static void CausalSoftmax4(ref float rows, int t, int seq, VectorWidth width)
    {
        int lanes = width == VectorWidth.Scalar ? 1 : (int)width / 32;
        int length = Math.Min(seq, (t + lanes) / lanes * lanes);
        if (width != VectorWidth.Scalar && seq >= lanes && length % lanes == 0 && t % 4 == 0)
        {
            switch (width)
            {
                case VectorWidth.V512:
                    CausalSoftmax4<Vector512Ops, Vector512<float>>(ref rows, t, seq, length);
                    return;
                case VectorWidth.V256:
                    CausalSoftmax4<Vector256Ops, Vector256<float>>(ref rows, t, seq, length);
                    return;
                default:
                    CausalSoftmax4<Vector128Ops, Vector128<float>>(ref rows, t, seq, length);
                    return;
            }
        }

        for (int i = 0; i < 4; i++)
        {
            ref float row = ref Unsafe.Add(ref rows, i * seq);
            if (!CausalSoftmax(ref row, t + i, seq, width))
            {
                CausalSoftmaxScalar(ref row, t + i, seq, width);
            }
        }
    }

    /// <summary>The row-by-row fallback of rows shorter than a vector (or scalar width), through SpanMath.</summary>
    internal static void CausalSoftmaxScalar(ref float rowStart, int t, int seq, VectorWidth width)
    {
        var row = MemoryMarshal.CreateSpan(ref rowStart, seq);
        row.Slice(t + 1).Fill(float.NegativeInfinity);
        int lanes = width == VectorWidth.Scalar ? 1 : (int)width / 32;
        int length = Math.Min(seq, (t + lanes) / lanes * lanes);
        var r = row.Slice(0, length);
        float max = SpanMath.Max(r, width);
        float sum = SpanMath.ExpSubtractAndSum(r, max, width);
        SpanMath.Scale(1 / sum, r, width);
        row.Slice(length).Clear();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void CausalSoftmax4<TOps, TV>(ref float r0, int t, int seq, int length)
        where TOps : IVectorOps<TV>
        where TV : struct
    {
        ref float r1 = ref Unsafe.Add(ref r0, seq);
        ref float r2 = ref Unsafe.Add(ref r0, 2 * seq);
        ref float r3 = ref Unsafe.Add(ref r0, 3 * seq);
        for (int i = 0; i < 4; i++)
        {
            ref float row = ref Unsafe.Add(ref r0, i * seq);
            for (int k = t + i + 1; k < length; k++)
            {
                Unsafe.Add(ref row, k) = float.NegativeInfinity;
            }
        }

        TV m0 = TOps.Create(float.NegativeInfinity), m1 = m0, m2 = m0, m3 = m0;
        for (int j = 0; j < length; j += TOps.Count)
        {
            m0 = TOps.Max(m0, TOps.Load(ref r0, j));
            m1 = TOps.Max(m1, TOps.Load(ref r1, j));
            m2 = TOps.Max(m2, TOps.Load(ref r2, j));
            m3 = TOps.Max(m3, TOps.Load(ref r3, j));
        }

        TV s0 = TOps.Create(MathF.Max(float.NegativeInfinity, TOps.MaxAcross(m0)));
        TV s1 = TOps.Create(MathF.Max(float.NegativeInfinity, TOps.MaxAcross(m1)));
        TV s2 = TOps.Create(MathF.Max(float.NegativeInfinity, TOps.MaxAcross(m2)));
        TV s3 = TOps.Create(MathF.Max(float.NegativeInfinity, TOps.MaxAcross(m3)));
        TV a0 = TOps.Create(0f), a1 = a0, a2 = a0, a3 = a0;
        for (int j = 0; j < length; j += TOps.Count)
        {
            TV e0 = TOps.Subtract(TOps.Load(ref r0, j), s0);
            TV e1 = TOps.Subtract(TOps.Load(ref r1, j), s1);
            TV e2 = TOps.Subtract(TOps.Load(ref r2, j), s2);
            TV e3 = TOps.Subtract(TOps.Load(ref r3, j), s3);
            TOps.Exp4(ref e0, ref e1, ref e2, ref e3);
            TOps.Store(e0, ref r0, j);
            TOps.Store(e1, ref r1, j);
            TOps.Store(e2, ref r2, j);
            TOps.Store(e3, ref r3, j);
            a0 = TOps.Add(a0, e0);
            a1 = TOps.Add(a1, e1);
            a2 = TOps.Add(a2, e2);
            a3 = TOps.Add(a3, e3);
        }

        TV c0 = TOps.Create(1 / TOps.Sum(a0)), c1 = TOps.Create(1 / TOps.Sum(a1));
        TV c2 = TOps.Create(1 / TOps.Sum(a2)), c3 = TOps.Create(1 / TOps.Sum(a3));
        for (int j = 0; j < length; j += TOps.Count)
        {
            TOps.Store(TOps.Multiply(TOps.Load(ref r0, j), c0), ref r0, j);
            TOps.Store(TOps.Multiply(TOps.Load(ref r1, j), c1), ref r1, j);
            TOps.Store(TOps.Multiply(TOps.Load(ref r2, j), c2), ref r2, j);
            TOps.Store(TOps.Multiply(TOps.Load(ref r3, j), c3), ref r3, j);
        }

        for (int i = 0; i < 4; i++)
        {
            MemoryMarshal.CreateSpan(ref Unsafe.Add(ref r0, (i * seq) + length), seq - length).Clear();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void CausalSoftmax<TOps, TV>(ref float row, int t, int seq)
        where TOps : IVectorOps<TV>
        where TV : struct
    {
        int length = Math.Min(seq, (t + TOps.Count) / TOps.Count * TOps.Count);
        for (int i = t + 1; i < length; i++)
        {
            Unsafe.Add(ref row, i) = float.NegativeInfinity;
        }

        SpanMath.Softmax<TOps, TV>(MemoryMarshal.CreateSpan(ref row, length));
        MemoryMarshal.CreateSpan(ref Unsafe.Add(ref row, length), seq - length).Clear();
    }

    // Lane indices 0, 1, ..., for the masks of a row's last vector.
    private static readonly float[] LaneIndices = [.. Enumerable.Range(0, 16).Select(i => (float)i)];

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void SoftmaxBackward<TOps, TV>(ref float p, ref float d, int seq, int t, int m, float scale)
        where TOps : IVectorOps<TV>
        where TV : struct
    {
        TV zero = TOps.Create(0f), s = TOps.Create(scale), lanes = TOps.Load(ref LaneIndices[0], 0);
        if (m == 4 && TOps.Count >= 4 && t % 4 == 0 && (t / TOps.Count * TOps.Count) + TOps.Count <= seq)
        {
            // All four rows end inside the same whole vector: their sums and updates interleaved.
            ref float p1 = ref Unsafe.Add(ref p, seq), p2 = ref Unsafe.Add(ref p, 2 * seq), p3 = ref Unsafe.Add(ref p, 3 * seq);
            ref float d1 = ref Unsafe.Add(ref d, seq), d2 = ref Unsafe.Add(ref d, 2 * seq), d3 = ref Unsafe.Add(ref d, 3 * seq);
            int last = t / TOps.Count * TOps.Count;
            TV a0 = zero, a1 = zero, a2 = zero, a3 = zero;
            for (int j = 0; j < last; j += TOps.Count)
            {
                a0 = TOps.Add(a0, TOps.Multiply(TOps.Load(ref p, j), TOps.Load(ref d, j)));
                a1 = TOps.Add(a1, TOps.Multiply(TOps.Load(ref p1, j), TOps.Load(ref d1, j)));
                a2 = TOps.Add(a2, TOps.Multiply(TOps.Load(ref p2, j), TOps.Load(ref d2, j)));
                a3 = TOps.Add(a3, TOps.Multiply(TOps.Load(ref p3, j), TOps.Load(ref d3, j)));
            }

            TV index = TOps.Add(lanes, TOps.Create((float)last));
            a0 = TOps.Add(a0, TOps.Select(TOps.LessThan(index, TOps.Create(t + 1f)), TOps.Multiply(TOps.Load(ref p, last), TOps.Load(ref d, last)), zero));
            a1 = TOps.Add(a1, TOps.Select(TOps.LessThan(index, TOps.Create(t + 2f)), TOps.Multiply(TOps.Load(ref p1, last), TOps.Load(ref d1, last)), zero));
            a2 = TOps.Add(a2, TOps.Select(TOps.LessThan(index, TOps.Create(t + 3f)), TOps.Multiply(TOps.Load(ref p2, last), TOps.Load(ref d2, last)), zero));
            a3 = TOps.Add(a3, TOps.Select(TOps.LessThan(index, TOps.Create(t + 4f)), TOps.Multiply(TOps.Load(ref p3, last), TOps.Load(ref d3, last)), zero));
            TV o0 = TOps.Create(TOps.Sum(a0)), o1 = TOps.Create(TOps.Sum(a1)), o2 = TOps.Create(TOps.Sum(a2)), o3 = TOps.Create(TOps.Sum(a3));
            for (int j = 0; j <= last; j += TOps.Count)
            {
                TOps.Store(TOps.Multiply(TOps.Multiply(s, TOps.Load(ref p, j)), TOps.Subtract(TOps.Load(ref d, j), o0)), ref d, j);
                TOps.Store(TOps.Multiply(TOps.Multiply(s, TOps.Load(ref p1, j)), TOps.Subtract(TOps.Load(ref d1, j), o1)), ref d1, j);
                TOps.Store(TOps.Multiply(TOps.Multiply(s, TOps.Load(ref p2, j)), TOps.Subtract(TOps.Load(ref d2, j), o2)), ref d2, j);
                TOps.Store(TOps.Multiply(TOps.Multiply(s, TOps.Load(ref p3, j)), TOps.Subtract(TOps.Load(ref d3, j), o3)), ref d3, j);
            }

            return;
        }

        for (int i = 0; i < m; i++)
        {
            ref float pi = ref Unsafe.Add(ref p, i * seq);
            ref float di = ref Unsafe.Add(ref d, i * seq);
            int n = t + i + 1, last = (n - 1) / TOps.Count * TOps.Count;
            TV acc = zero;
            for (int j = 0; j < last; j += TOps.Count)
            {
                acc = TOps.Add(acc, TOps.Multiply(TOps.Load(ref pi, j), TOps.Load(ref di, j)));
            }

            if (last + TOps.Count > seq)
            {
                // The row's last vector would run past the row: its entries one by one instead.
                float sum = TOps.Sum(acc);
                for (int k = last; k < n; k++)
                {
                    sum += Unsafe.Add(ref pi, k) * Unsafe.Add(ref di, k);
                }

                TV o = TOps.Create(sum);
                for (int j = 0; j < last; j += TOps.Count)
                {
                    TOps.Store(TOps.Multiply(TOps.Multiply(s, TOps.Load(ref pi, j)), TOps.Subtract(TOps.Load(ref di, j), o)), ref di, j);
                }

                for (int k = last; k < n; k++)
                {
                    Unsafe.Add(ref di, k) = scale * Unsafe.Add(ref pi, k) * (Unsafe.Add(ref di, k) - sum);
                }

                continue;
            }

            TV index = TOps.Add(lanes, TOps.Create((float)last));
            acc = TOps.Add(acc, TOps.Select(TOps.LessThan(index, TOps.Create((float)n)), TOps.Multiply(TOps.Load(ref pi, last), TOps.Load(ref di, last)), zero));
            TV dot = TOps.Create(TOps.Sum(acc));
            for (int j = 0; j <= last; j += TOps.Count)
            {
                TOps.Store(TOps.Multiply(TOps.Multiply(s, TOps.Load(ref pi, j)), TOps.Subtract(TOps.Load(ref di, j), dot)), ref di, j);
            }
        }
    }
}
