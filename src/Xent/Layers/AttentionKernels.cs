using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using Xent.Kernels;

namespace Xent.Layers;

/// <summary>
/// The attention's head-size loops, several output rows at a time (eight for the weighted sums, four by two column
/// vectors for the scores): independent accumulator chains share every load of the other operand, so neither the add
/// latency of one chain nor the loads bound the loop. Each output element is still
/// summed alone, in the same order and with the same operations as <see cref="SpanMath.RowTimesMatrix"/> and
/// <see cref="SpanMath.WeightedRowSum"/> (acc = 0, then acc + w x term by term): the blocking changes no bits.
/// </summary>
internal static class AttentionKernels
{
    /// <summary>
    /// For i in [0, m), m &lt;= 8: y_i [hs] (row stride ys) = sum over r in [lo + i loStep, hi + i hiStep) of
    /// w[i wi + r wr] x_r, with x_r = x[r stride ..] [hs]; each sum from 0 in increasing r. loStep and hiStep are 0 or 1.
    /// </summary>
    public static void WeightedSums(ref float w, int wi, int wr, ref float x, int stride, ref float y, int ys, int hs,
        int m, int lo, int loStep, int hi, int hiStep, VectorWidth width)
    {
        if (m > 4)
        {
            // Up to eight rows: eight chains sharing each load of x where all eight rows' ranges overlap, else two
            // blocks of four (the same bits: every row's sum is formed alone, in r order, either way).
            if (m == 8 && lo + (7 * loStep) <= hi)
            {
                int c8 = width switch
                {
                    VectorWidth.V512 => WeightedSums8<Vector512Ops, Vector512<float>>(ref w, wi, wr, ref x, stride, ref y, ys, hs, lo, loStep, hi, hiStep),
                    VectorWidth.V256 => WeightedSums8<Vector256Ops, Vector256<float>>(ref w, wi, wr, ref x, stride, ref y, ys, hs, lo, loStep, hi, hiStep),
                    VectorWidth.V128 => WeightedSums8<Vector128Ops, Vector128<float>>(ref w, wi, wr, ref x, stride, ref y, ys, hs, lo, loStep, hi, hiStep),
                    _ => 0,
                };
                if (c8 == hs)
                {
                    return;
                }

                // The scalar remainder columns of hs, four rows at a time.
                WeightedSums<ScalarOps, float>(ref w, wi, wr, ref x, stride, ref y, ys, hs, 4, lo, loStep, hi, hiStep, c8);
                WeightedSums<ScalarOps, float>(ref Unsafe.Add(ref w, 4 * wi), wi, wr, ref x, stride, ref Unsafe.Add(ref y, 4 * (nint)ys), ys, hs, 4,
                    lo + (4 * loStep), loStep, hi + (4 * hiStep), hiStep, c8);
                return;
            }

            WeightedSums(ref w, wi, wr, ref x, stride, ref y, ys, hs, 4, lo, loStep, hi, hiStep, width);
            WeightedSums(ref Unsafe.Add(ref w, 4 * wi), wi, wr, ref x, stride, ref Unsafe.Add(ref y, 4 * (nint)ys), ys, hs, m - 4,
                lo + (4 * loStep), loStep, hi + (4 * hiStep), hiStep, width);
            return;
        }

        int c = width switch
        {
            VectorWidth.V512 => WeightedSums<Vector512Ops, Vector512<float>>(ref w, wi, wr, ref x, stride, ref y, ys, hs, m, lo, loStep, hi, hiStep, 0),
            VectorWidth.V256 => WeightedSums<Vector256Ops, Vector256<float>>(ref w, wi, wr, ref x, stride, ref y, ys, hs, m, lo, loStep, hi, hiStep, 0),
            VectorWidth.V128 => WeightedSums<Vector128Ops, Vector128<float>>(ref w, wi, wr, ref x, stride, ref y, ys, hs, m, lo, loStep, hi, hiStep, 0),
            _ => 0,
        };
        WeightedSums<ScalarOps, float>(ref w, wi, wr, ref x, stride, ref y, ys, hs, m, lo, loStep, hi, hiStep, c);
    }

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
    /// Softmax of row[0..t] in place, entries after t set to 0, in one call: the same operations and bits as
    /// <see cref="Attention"/>'s row by row SpanMath passes (max and exp over t + 1 rounded up to whole vectors with
    /// -inf after t, the sum's tail in a -inf-padded vector, the scale), for rows of at least one vector.
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
        if (ThirtyTwoRegisters)
        {
            for (int j = 0; j < length; j += TOps.Count)
            {
                TV e0 = TOps.Exp(TOps.Subtract(TOps.Load(ref r0, j), s0));
                TV e1 = TOps.Exp(TOps.Subtract(TOps.Load(ref r1, j), s1));
                TV e2 = TOps.Exp(TOps.Subtract(TOps.Load(ref r2, j), s2));
                TV e3 = TOps.Exp(TOps.Subtract(TOps.Load(ref r3, j), s3));
                TOps.Store(e0, ref r0, j);
                TOps.Store(e1, ref r1, j);
                TOps.Store(e2, ref r2, j);
                TOps.Store(e3, ref r3, j);
                a0 = TOps.Add(a0, e0);
                a1 = TOps.Add(a1, e1);
                a2 = TOps.Add(a2, e2);
                a3 = TOps.Add(a3, e3);
            }
        }
        else
        {
            // With 16 registers, two rows at a time: four exps in flight and their constants spilled (the same sums).
            (a0, a1) = ExpSums2<TOps, TV>(ref r0, ref r1, s0, s1, length);
            (a2, a3) = ExpSums2<TOps, TV>(ref r2, ref r3, s2, s3, length);
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

    // row = exp(row - shift) over [0, length) for two rows, returning each row's sum of them (as CausalSoftmax4).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (TV A, TV B) ExpSums2<TOps, TV>(ref float ra, ref float rb, TV sa, TV sb, int length)
        where TOps : IVectorOps<TV>
        where TV : struct
    {
        TV a = TOps.Create(0f), b = a;
        for (int j = 0; j < length; j += TOps.Count)
        {
            TV ea = TOps.Exp(TOps.Subtract(TOps.Load(ref ra, j), sa));
            TV eb = TOps.Exp(TOps.Subtract(TOps.Load(ref rb, j), sb));
            TOps.Store(ea, ref ra, j);
            TOps.Store(eb, ref rb, j);
            a = TOps.Add(a, ea);
            b = TOps.Add(b, eb);
        }

        return (a, b);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void CausalSoftmax<TOps, TV>(ref float row, int t, int seq)
        where TOps : IVectorOps<TV>
        where TV : struct
    {
        int length = Math.Min(seq, (t + TOps.Count) / TOps.Count * TOps.Count);
        for (int i = t + 1; i < length; i++)
        {
            Unsafe.Add(ref row, i) = float.NegativeInfinity;
        }

        // Max: whole vectors, then the scalar lanes.
        TV acc = TOps.Create(float.NegativeInfinity);
        int j = 0;
        for (; j + TOps.Count <= length; j += TOps.Count)
        {
            acc = TOps.Max(acc, TOps.Load(ref row, j));
        }

        float max = MathF.Max(float.NegativeInfinity, TOps.MaxAcross(acc));
        if (j < length)
        {
            float tail = float.NegativeInfinity;
            for (int i = j; i < length; i++)
            {
                tail = ScalarOps.Max(tail, Unsafe.Add(ref row, i));
            }

            max = MathF.Max(max, tail);
        }

        // exp(x - max) and its sum: whole vectors, then the rest in one vector padded with -inf.
        TV shift = TOps.Create(max), sum = TOps.Create(0f);
        for (j = 0; j + TOps.Count <= length; j += TOps.Count)
        {
            TV e = TOps.Exp(TOps.Subtract(TOps.Load(ref row, j), shift));
            TOps.Store(e, ref row, j);
            sum = TOps.Add(sum, e);
        }

        int rest = length - j;
        if (rest > 0)
        {
            Span<float> padded = stackalloc float[TOps.Count];
            padded.Fill(float.NegativeInfinity);
            for (int i = 0; i < rest; i++)
            {
                padded[i] = Unsafe.Add(ref row, j + i);
            }

            ref float p0 = ref padded[0];
            TV e = TOps.Exp(TOps.Subtract(TOps.Load(ref p0, 0), shift));
            TOps.Store(e, ref p0, 0);
            for (int i = 0; i < rest; i++)
            {
                Unsafe.Add(ref row, j + i) = padded[i];
            }

            sum = TOps.Add(sum, e);
        }

        float scale = 1 / TOps.Sum(sum);
        TV a = TOps.Create(scale);
        for (j = 0; j + TOps.Count <= length; j += TOps.Count)
        {
            TOps.Store(TOps.Multiply(TOps.Load(ref row, j), a), ref row, j);
        }

        for (; j < length; j++)
        {
            Unsafe.Add(ref row, j) *= scale;
        }

        MemoryMarshal.CreateSpan(ref Unsafe.Add(ref row, length), seq - length).Clear();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int WeightedSums<TOps, TV>(ref float w, int wi, int wr, ref float x, int stride, ref float y, int ys, int hs,
        int m, int lo, int loStep, int hi, int hiStep, int c)
        where TOps : IVectorOps<TV>
        where TV : struct
    {
        for (; c + TOps.Count <= hs; c += TOps.Count)
        {
            if (m < 4)
            {
                for (int i = 0; i < m; i++)
                {
                    TV acc = TOps.Create(0f);
                    for (int r = lo + (i * loStep); r < hi + (i * hiStep); r++)
                    {
                        acc = TOps.Add(acc, TOps.Multiply(TOps.Create(Unsafe.Add(ref w, (i * wi) + (r * wr))), TOps.Load(ref x, ((nint)r * stride) + c)));
                    }

                    TOps.Store(acc, ref y, ((nint)i * ys) + c);
                }

                continue;
            }

            // Rows whose range starts earlier take their first terms alone, then all four run together over the
            // common range, then rows whose range ends later take their last terms alone: every chain in r order.
            TV a0 = TOps.Create(0f), a1 = a0, a2 = a0, a3 = a0;
            int commonLo = lo + (3 * loStep), commonHi = hi;
            for (int r = lo; r < commonLo; r++)
            {
                TV xr = TOps.Load(ref x, ((nint)r * stride) + c);
                int rw = r * wr;
                a0 = TOps.Add(a0, TOps.Multiply(TOps.Create(Unsafe.Add(ref w, rw)), xr));
                if (r >= lo + loStep)
                {
                    a1 = TOps.Add(a1, TOps.Multiply(TOps.Create(Unsafe.Add(ref w, wi + rw)), xr));
                }

                if (r >= lo + (2 * loStep))
                {
                    a2 = TOps.Add(a2, TOps.Multiply(TOps.Create(Unsafe.Add(ref w, (2 * wi) + rw)), xr));
                }
            }

            for (int r = commonLo; r < commonHi; r++)
            {
                TV xr = TOps.Load(ref x, ((nint)r * stride) + c);
                ref float wr0 = ref Unsafe.Add(ref w, r * wr);
                a0 = TOps.Add(a0, TOps.Multiply(TOps.Create(wr0), xr));
                a1 = TOps.Add(a1, TOps.Multiply(TOps.Create(Unsafe.Add(ref wr0, wi)), xr));
                a2 = TOps.Add(a2, TOps.Multiply(TOps.Create(Unsafe.Add(ref wr0, 2 * wi)), xr));
                a3 = TOps.Add(a3, TOps.Multiply(TOps.Create(Unsafe.Add(ref wr0, 3 * wi)), xr));
            }

            for (int r = commonHi; r < hi + (3 * hiStep); r++)
            {
                TV xr = TOps.Load(ref x, ((nint)r * stride) + c);
                int rw = r * wr;
                if (r < hi + hiStep)
                {
                    a1 = TOps.Add(a1, TOps.Multiply(TOps.Create(Unsafe.Add(ref w, wi + rw)), xr));
                }

                if (r < hi + (2 * hiStep))
                {
                    a2 = TOps.Add(a2, TOps.Multiply(TOps.Create(Unsafe.Add(ref w, (2 * wi) + rw)), xr));
                }

                a3 = TOps.Add(a3, TOps.Multiply(TOps.Create(Unsafe.Add(ref w, (3 * wi) + rw)), xr));
            }

            TOps.Store(a0, ref y, c);
            TOps.Store(a1, ref y, ys + c);
            TOps.Store(a2, ref y, (2 * (nint)ys) + c);
            TOps.Store(a3, ref y, (3 * (nint)ys) + c);
        }

        return c;
    }

    // 32 vector registers (AVX-512, also at 256 and 128 bits; Arm64's AdvSimd); a JIT-time constant.
    private static bool ThirtyTwoRegisters => Avx512F.IsSupported || AdvSimd.Arm64.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int WeightedSums8<TOps, TV>(ref float w, int wi, int wr, ref float x, int stride, ref float y, int ys, int hs,
        int lo, int loStep, int hi, int hiStep)
        where TOps : IVectorOps<TV>
        where TV : struct
    {
        int c = 0;
        nint wi1 = wi;
        // Two column vectors per pass while they fit (hs = 16 at 256 bits): each weight broadcast serves both. Only
        // with 32 vector registers: the 16 accumulators, the two x vectors and a weight spill on AVX2's 16.
        for (; ThirtyTwoRegisters && c + (2 * TOps.Count) <= hs; c += 2 * TOps.Count)
        {
            TV a0 = TOps.Create(0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
            TV b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0, b6 = a0, b7 = a0;
            int commonLo = lo + (7 * loStep), commonHi = hi;
            for (int r = lo; r < commonLo; r++)
            {
                ref float xrow = ref Unsafe.Add(ref x, ((nint)r * stride) + c);
                TV xr = TOps.Load(ref xrow, 0), xq = TOps.Load(ref xrow, TOps.Count);
                ref float wr0 = ref Unsafe.Add(ref w, (nint)r * wr);
                int k = r - lo;
                TV w0 = TOps.Create(wr0);
                a0 = TOps.Add(a0, TOps.Multiply(w0, xr));
                b0 = TOps.Add(b0, TOps.Multiply(w0, xq));

                if (k >= 1)
                {
                    TV w1 = TOps.Create(Unsafe.Add(ref wr0, wi1));
                    a1 = TOps.Add(a1, TOps.Multiply(w1, xr));
                    b1 = TOps.Add(b1, TOps.Multiply(w1, xq));
                }

                if (k >= 2)
                {
                    TV w2 = TOps.Create(Unsafe.Add(ref wr0, 2 * wi1));
                    a2 = TOps.Add(a2, TOps.Multiply(w2, xr));
                    b2 = TOps.Add(b2, TOps.Multiply(w2, xq));
                }

                if (k >= 3)
                {
                    TV w3 = TOps.Create(Unsafe.Add(ref wr0, 3 * wi1));
                    a3 = TOps.Add(a3, TOps.Multiply(w3, xr));
                    b3 = TOps.Add(b3, TOps.Multiply(w3, xq));
                }

                if (k >= 4)
                {
                    TV w4 = TOps.Create(Unsafe.Add(ref wr0, 4 * wi1));
                    a4 = TOps.Add(a4, TOps.Multiply(w4, xr));
                    b4 = TOps.Add(b4, TOps.Multiply(w4, xq));
                }

                if (k >= 5)
                {
                    TV w5 = TOps.Create(Unsafe.Add(ref wr0, 5 * wi1));
                    a5 = TOps.Add(a5, TOps.Multiply(w5, xr));
                    b5 = TOps.Add(b5, TOps.Multiply(w5, xq));
                }

                if (k >= 6)
                {
                    TV w6 = TOps.Create(Unsafe.Add(ref wr0, 6 * wi1));
                    a6 = TOps.Add(a6, TOps.Multiply(w6, xr));
                    b6 = TOps.Add(b6, TOps.Multiply(w6, xq));
                }
            }

            for (int r = commonLo; r < commonHi; r++)
            {
                ref float xrow = ref Unsafe.Add(ref x, ((nint)r * stride) + c);
                TV xr = TOps.Load(ref xrow, 0), xq = TOps.Load(ref xrow, TOps.Count);
                ref float wr0 = ref Unsafe.Add(ref w, (nint)r * wr);
                TV w0 = TOps.Create(wr0);
                a0 = TOps.Add(a0, TOps.Multiply(w0, xr));
                b0 = TOps.Add(b0, TOps.Multiply(w0, xq));
                TV w1 = TOps.Create(Unsafe.Add(ref wr0, wi1));
                a1 = TOps.Add(a1, TOps.Multiply(w1, xr));
                b1 = TOps.Add(b1, TOps.Multiply(w1, xq));
                TV w2 = TOps.Create(Unsafe.Add(ref wr0, 2 * wi1));
                a2 = TOps.Add(a2, TOps.Multiply(w2, xr));
                b2 = TOps.Add(b2, TOps.Multiply(w2, xq));
                TV w3 = TOps.Create(Unsafe.Add(ref wr0, 3 * wi1));
                a3 = TOps.Add(a3, TOps.Multiply(w3, xr));
                b3 = TOps.Add(b3, TOps.Multiply(w3, xq));
                TV w4 = TOps.Create(Unsafe.Add(ref wr0, 4 * wi1));
                a4 = TOps.Add(a4, TOps.Multiply(w4, xr));
                b4 = TOps.Add(b4, TOps.Multiply(w4, xq));
                TV w5 = TOps.Create(Unsafe.Add(ref wr0, 5 * wi1));
                a5 = TOps.Add(a5, TOps.Multiply(w5, xr));
                b5 = TOps.Add(b5, TOps.Multiply(w5, xq));
                TV w6 = TOps.Create(Unsafe.Add(ref wr0, 6 * wi1));
                a6 = TOps.Add(a6, TOps.Multiply(w6, xr));
                b6 = TOps.Add(b6, TOps.Multiply(w6, xq));
                TV w7 = TOps.Create(Unsafe.Add(ref wr0, 7 * wi1));
                a7 = TOps.Add(a7, TOps.Multiply(w7, xr));
                b7 = TOps.Add(b7, TOps.Multiply(w7, xq));
            }

            for (int r = commonHi; r < hi + (7 * hiStep); r++)
            {
                ref float xrow = ref Unsafe.Add(ref x, ((nint)r * stride) + c);
                TV xr = TOps.Load(ref xrow, 0), xq = TOps.Load(ref xrow, TOps.Count);
                ref float wr0 = ref Unsafe.Add(ref w, (nint)r * wr);
                int k = r - hi;
                if (k < 1)
                {
                    TV w1 = TOps.Create(Unsafe.Add(ref wr0, wi1));
                    a1 = TOps.Add(a1, TOps.Multiply(w1, xr));
                    b1 = TOps.Add(b1, TOps.Multiply(w1, xq));
                }

                if (k < 2)
                {
                    TV w2 = TOps.Create(Unsafe.Add(ref wr0, 2 * wi1));
                    a2 = TOps.Add(a2, TOps.Multiply(w2, xr));
                    b2 = TOps.Add(b2, TOps.Multiply(w2, xq));
                }

                if (k < 3)
                {
                    TV w3 = TOps.Create(Unsafe.Add(ref wr0, 3 * wi1));
                    a3 = TOps.Add(a3, TOps.Multiply(w3, xr));
                    b3 = TOps.Add(b3, TOps.Multiply(w3, xq));
                }

                if (k < 4)
                {
                    TV w4 = TOps.Create(Unsafe.Add(ref wr0, 4 * wi1));
                    a4 = TOps.Add(a4, TOps.Multiply(w4, xr));
                    b4 = TOps.Add(b4, TOps.Multiply(w4, xq));
                }

                if (k < 5)
                {
                    TV w5 = TOps.Create(Unsafe.Add(ref wr0, 5 * wi1));
                    a5 = TOps.Add(a5, TOps.Multiply(w5, xr));
                    b5 = TOps.Add(b5, TOps.Multiply(w5, xq));
                }

                if (k < 6)
                {
                    TV w6 = TOps.Create(Unsafe.Add(ref wr0, 6 * wi1));
                    a6 = TOps.Add(a6, TOps.Multiply(w6, xr));
                    b6 = TOps.Add(b6, TOps.Multiply(w6, xq));
                }

                TV w7 = TOps.Create(Unsafe.Add(ref wr0, 7 * wi1));
                a7 = TOps.Add(a7, TOps.Multiply(w7, xr));
                b7 = TOps.Add(b7, TOps.Multiply(w7, xq));
            }

            TOps.Store(a0, ref y, c);
            TOps.Store(b0, ref y, c + TOps.Count);
            TOps.Store(a1, ref y, ys + c);
            TOps.Store(b1, ref y, ys + c + TOps.Count);
            TOps.Store(a2, ref y, (2 * (nint)ys) + c);
            TOps.Store(b2, ref y, (2 * (nint)ys) + c + TOps.Count);
            TOps.Store(a3, ref y, (3 * (nint)ys) + c);
            TOps.Store(b3, ref y, (3 * (nint)ys) + c + TOps.Count);
            TOps.Store(a4, ref y, (4 * (nint)ys) + c);
            TOps.Store(b4, ref y, (4 * (nint)ys) + c + TOps.Count);
            TOps.Store(a5, ref y, (5 * (nint)ys) + c);
            TOps.Store(b5, ref y, (5 * (nint)ys) + c + TOps.Count);
            TOps.Store(a6, ref y, (6 * (nint)ys) + c);
            TOps.Store(b6, ref y, (6 * (nint)ys) + c + TOps.Count);
            TOps.Store(a7, ref y, (7 * (nint)ys) + c);
            TOps.Store(b7, ref y, (7 * (nint)ys) + c + TOps.Count);
        }

        for (; c + TOps.Count <= hs; c += TOps.Count)
        {
            // As the four-row block: rows whose range starts earlier take their first terms alone, all eight run
            // together over the common range, rows whose range ends later take their last terms alone.
            TV a0 = TOps.Create(0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
            int commonLo = lo + (7 * loStep), commonHi = hi;
            for (int r = lo; r < commonLo; r++)
            {
                TV xr = TOps.Load(ref x, ((nint)r * stride) + c);
                ref float wr0 = ref Unsafe.Add(ref w, (nint)r * wr);
                int k = r - lo; // loStep is 1 here: row i takes r once r >= lo + i
                a0 = TOps.Add(a0, TOps.Multiply(TOps.Create(wr0), xr));
                if (k >= 1)
                {
                    a1 = TOps.Add(a1, TOps.Multiply(TOps.Create(Unsafe.Add(ref wr0, wi1)), xr));
                }

                if (k >= 2)
                {
                    a2 = TOps.Add(a2, TOps.Multiply(TOps.Create(Unsafe.Add(ref wr0, 2 * wi1)), xr));
                }

                if (k >= 3)
                {
                    a3 = TOps.Add(a3, TOps.Multiply(TOps.Create(Unsafe.Add(ref wr0, 3 * wi1)), xr));
                }

                if (k >= 4)
                {
                    a4 = TOps.Add(a4, TOps.Multiply(TOps.Create(Unsafe.Add(ref wr0, 4 * wi1)), xr));
                }

                if (k >= 5)
                {
                    a5 = TOps.Add(a5, TOps.Multiply(TOps.Create(Unsafe.Add(ref wr0, 5 * wi1)), xr));
                }

                if (k >= 6)
                {
                    a6 = TOps.Add(a6, TOps.Multiply(TOps.Create(Unsafe.Add(ref wr0, 6 * wi1)), xr));
                }
            }

            for (int r = commonLo; r < commonHi; r++)
            {
                TV xr = TOps.Load(ref x, ((nint)r * stride) + c);
                ref float wr0 = ref Unsafe.Add(ref w, (nint)r * wr);
                a0 = TOps.Add(a0, TOps.Multiply(TOps.Create(wr0), xr));
                a1 = TOps.Add(a1, TOps.Multiply(TOps.Create(Unsafe.Add(ref wr0, wi1)), xr));
                a2 = TOps.Add(a2, TOps.Multiply(TOps.Create(Unsafe.Add(ref wr0, 2 * wi1)), xr));
                a3 = TOps.Add(a3, TOps.Multiply(TOps.Create(Unsafe.Add(ref wr0, 3 * wi1)), xr));
                a4 = TOps.Add(a4, TOps.Multiply(TOps.Create(Unsafe.Add(ref wr0, 4 * wi1)), xr));
                a5 = TOps.Add(a5, TOps.Multiply(TOps.Create(Unsafe.Add(ref wr0, 5 * wi1)), xr));
                a6 = TOps.Add(a6, TOps.Multiply(TOps.Create(Unsafe.Add(ref wr0, 6 * wi1)), xr));
                a7 = TOps.Add(a7, TOps.Multiply(TOps.Create(Unsafe.Add(ref wr0, 7 * wi1)), xr));
            }

            for (int r = commonHi; r < hi + (7 * hiStep); r++)
            {
                TV xr = TOps.Load(ref x, ((nint)r * stride) + c);
                ref float wr0 = ref Unsafe.Add(ref w, (nint)r * wr);
                int k = r - hi; // hiStep is 1 here: row i takes r while r < hi + i
                if (k < 1)
                {
                    a1 = TOps.Add(a1, TOps.Multiply(TOps.Create(Unsafe.Add(ref wr0, wi1)), xr));
                }

                if (k < 2)
                {
                    a2 = TOps.Add(a2, TOps.Multiply(TOps.Create(Unsafe.Add(ref wr0, 2 * wi1)), xr));
                }

                if (k < 3)
                {
                    a3 = TOps.Add(a3, TOps.Multiply(TOps.Create(Unsafe.Add(ref wr0, 3 * wi1)), xr));
                }

                if (k < 4)
                {
                    a4 = TOps.Add(a4, TOps.Multiply(TOps.Create(Unsafe.Add(ref wr0, 4 * wi1)), xr));
                }

                if (k < 5)
                {
                    a5 = TOps.Add(a5, TOps.Multiply(TOps.Create(Unsafe.Add(ref wr0, 5 * wi1)), xr));
                }

                if (k < 6)
                {
                    a6 = TOps.Add(a6, TOps.Multiply(TOps.Create(Unsafe.Add(ref wr0, 6 * wi1)), xr));
                }

                a7 = TOps.Add(a7, TOps.Multiply(TOps.Create(Unsafe.Add(ref wr0, 7 * wi1)), xr));
            }

            TOps.Store(a0, ref y, c);
            TOps.Store(a1, ref y, ys + c);
            TOps.Store(a2, ref y, (2 * (nint)ys) + c);
            TOps.Store(a3, ref y, (3 * (nint)ys) + c);
            TOps.Store(a4, ref y, (4 * (nint)ys) + c);
            TOps.Store(a5, ref y, (5 * (nint)ys) + c);
            TOps.Store(a6, ref y, (6 * (nint)ys) + c);
            TOps.Store(a7, ref y, (7 * (nint)ys) + c);
        }

        return c;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
                    a0 = TOps.Add(a0, TOps.Multiply(x0, mp));
                    a1 = TOps.Add(a1, TOps.Multiply(x1, mp));
                    a2 = TOps.Add(a2, TOps.Multiply(x2, mp));
                    a3 = TOps.Add(a3, TOps.Multiply(x3, mp));
                    b0 = TOps.Add(b0, TOps.Multiply(x0, mq));
                    b1 = TOps.Add(b1, TOps.Multiply(x1, mq));
                    b2 = TOps.Add(b2, TOps.Multiply(x2, mq));
                    b3 = TOps.Add(b3, TOps.Multiply(x3, mq));
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
                    a0 = TOps.Add(a0, TOps.Multiply(TOps.Create(Unsafe.Add(ref x, p)), mp));
                    a1 = TOps.Add(a1, TOps.Multiply(TOps.Create(Unsafe.Add(ref x, xs + p)), mp));
                    a2 = TOps.Add(a2, TOps.Multiply(TOps.Create(Unsafe.Add(ref x, (2 * xs) + p)), mp));
                    a3 = TOps.Add(a3, TOps.Multiply(TOps.Create(Unsafe.Add(ref x, (3 * xs) + p)), mp));
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
                    acc = TOps.Add(acc, TOps.Multiply(TOps.Create(Unsafe.Add(ref xi, p)), TOps.Load(ref mt, ((nint)p * ld) + k)));
                }

                TOps.Store(TOps.Multiply(acc, scale), ref y, ((nint)i * ys) + k);
            }

            // A row ending at cap inside a vector: its last columns as the scalar lanes of a row loop.
            for (; k < end; k++)
            {
                float acc = 0;
                for (int p = 0; p < hs; p++)
                {
                    acc += Unsafe.Add(ref xi, p) * Unsafe.Add(ref mt, ((nint)p * ld) + k);
                }

                Unsafe.Add(ref y, ((nint)i * ys) + k) = acc * alpha;
            }
        }
    }

    // Lane indices 0, 1, ..., for the masks of a row's last vector.
    private static readonly float[] LaneIndices = [.. Enumerable.Range(0, 16).Select(i => (float)i)];

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
