using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using Xent.Kernels;

namespace Xent.Layers;

/// <summary>
/// The attention's head-size loops, several output rows at a time (eight for the weighted sums, four by two column
/// vectors for the scores): independent accumulator chains share every load of the other operand, so neither the
/// latency of one chain nor the loads bound the loop. Each output element is still
/// summed alone, in the same order and with the same operations as <see cref="SpanMath.RowTimesMatrix"/> and
/// <see cref="SpanMath.WeightedRowSum"/> (acc = 0, then acc = fma(w, x, acc) term by term): the blocking changes no
/// bits. Fused rather than a product and a sum: one instruction a term instead of two, in loops whose instruction
/// count bounds them with AVX2's 256 bits (the default model's attention forward and backward 11-12% faster there,
/// 5-10% at 512 bits, on the Zen 4; docs/benchmarks.md).
/// </summary>
internal static partial class AttentionKernels
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
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
                        acc = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref w, (i * wi) + (r * wr))), TOps.Load(ref x, ((nint)r * stride) + c), acc);
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
                a0 = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref w, rw)), xr, a0);
                if (r >= lo + loStep)
                {
                    a1 = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref w, wi + rw)), xr, a1);
                }

                if (r >= lo + (2 * loStep))
                {
                    a2 = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref w, (2 * wi) + rw)), xr, a2);
                }
            }

            for (int r = commonLo; r < commonHi; r++)
            {
                TV xr = TOps.Load(ref x, ((nint)r * stride) + c);
                ref float wr0 = ref Unsafe.Add(ref w, r * wr);
                a0 = TOps.MultiplyAdd(TOps.Create(wr0), xr, a0);
                a1 = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref wr0, wi)), xr, a1);
                a2 = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref wr0, 2 * wi)), xr, a2);
                a3 = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref wr0, 3 * wi)), xr, a3);
            }

            for (int r = commonHi; r < hi + (3 * hiStep); r++)
            {
                TV xr = TOps.Load(ref x, ((nint)r * stride) + c);
                int rw = r * wr;
                if (r < hi + hiStep)
                {
                    a1 = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref w, wi + rw)), xr, a1);
                }

                if (r < hi + (2 * hiStep))
                {
                    a2 = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref w, (2 * wi) + rw)), xr, a2);
                }

                a3 = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref w, (3 * wi) + rw)), xr, a3);
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
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
                a0 = TOps.MultiplyAdd(w0, xr, a0);
                b0 = TOps.MultiplyAdd(w0, xq, b0);

                if (k >= 1)
                {
                    TV w1 = TOps.Create(Unsafe.Add(ref wr0, wi1));
                    a1 = TOps.MultiplyAdd(w1, xr, a1);
                    b1 = TOps.MultiplyAdd(w1, xq, b1);
                }

                if (k >= 2)
                {
                    TV w2 = TOps.Create(Unsafe.Add(ref wr0, 2 * wi1));
                    a2 = TOps.MultiplyAdd(w2, xr, a2);
                    b2 = TOps.MultiplyAdd(w2, xq, b2);
                }

                if (k >= 3)
                {
                    TV w3 = TOps.Create(Unsafe.Add(ref wr0, 3 * wi1));
                    a3 = TOps.MultiplyAdd(w3, xr, a3);
                    b3 = TOps.MultiplyAdd(w3, xq, b3);
                }

                if (k >= 4)
                {
                    TV w4 = TOps.Create(Unsafe.Add(ref wr0, 4 * wi1));
                    a4 = TOps.MultiplyAdd(w4, xr, a4);
                    b4 = TOps.MultiplyAdd(w4, xq, b4);
                }

                if (k >= 5)
                {
                    TV w5 = TOps.Create(Unsafe.Add(ref wr0, 5 * wi1));
                    a5 = TOps.MultiplyAdd(w5, xr, a5);
                    b5 = TOps.MultiplyAdd(w5, xq, b5);
                }

                if (k >= 6)
                {
                    TV w6 = TOps.Create(Unsafe.Add(ref wr0, 6 * wi1));
                    a6 = TOps.MultiplyAdd(w6, xr, a6);
                    b6 = TOps.MultiplyAdd(w6, xq, b6);
                }
            }

            for (int r = commonLo; r < commonHi; r++)
            {
                ref float xrow = ref Unsafe.Add(ref x, ((nint)r * stride) + c);
                TV xr = TOps.Load(ref xrow, 0), xq = TOps.Load(ref xrow, TOps.Count);
                ref float wr0 = ref Unsafe.Add(ref w, (nint)r * wr);
                TV w0 = TOps.Create(wr0);
                a0 = TOps.MultiplyAdd(w0, xr, a0);
                b0 = TOps.MultiplyAdd(w0, xq, b0);
                TV w1 = TOps.Create(Unsafe.Add(ref wr0, wi1));
                a1 = TOps.MultiplyAdd(w1, xr, a1);
                b1 = TOps.MultiplyAdd(w1, xq, b1);
                TV w2 = TOps.Create(Unsafe.Add(ref wr0, 2 * wi1));
                a2 = TOps.MultiplyAdd(w2, xr, a2);
                b2 = TOps.MultiplyAdd(w2, xq, b2);
                TV w3 = TOps.Create(Unsafe.Add(ref wr0, 3 * wi1));
                a3 = TOps.MultiplyAdd(w3, xr, a3);
                b3 = TOps.MultiplyAdd(w3, xq, b3);
                TV w4 = TOps.Create(Unsafe.Add(ref wr0, 4 * wi1));
                a4 = TOps.MultiplyAdd(w4, xr, a4);
                b4 = TOps.MultiplyAdd(w4, xq, b4);
                TV w5 = TOps.Create(Unsafe.Add(ref wr0, 5 * wi1));
                a5 = TOps.MultiplyAdd(w5, xr, a5);
                b5 = TOps.MultiplyAdd(w5, xq, b5);
                TV w6 = TOps.Create(Unsafe.Add(ref wr0, 6 * wi1));
                a6 = TOps.MultiplyAdd(w6, xr, a6);
                b6 = TOps.MultiplyAdd(w6, xq, b6);
                TV w7 = TOps.Create(Unsafe.Add(ref wr0, 7 * wi1));
                a7 = TOps.MultiplyAdd(w7, xr, a7);
                b7 = TOps.MultiplyAdd(w7, xq, b7);
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
                    a1 = TOps.MultiplyAdd(w1, xr, a1);
                    b1 = TOps.MultiplyAdd(w1, xq, b1);
                }

                if (k < 2)
                {
                    TV w2 = TOps.Create(Unsafe.Add(ref wr0, 2 * wi1));
                    a2 = TOps.MultiplyAdd(w2, xr, a2);
                    b2 = TOps.MultiplyAdd(w2, xq, b2);
                }

                if (k < 3)
                {
                    TV w3 = TOps.Create(Unsafe.Add(ref wr0, 3 * wi1));
                    a3 = TOps.MultiplyAdd(w3, xr, a3);
                    b3 = TOps.MultiplyAdd(w3, xq, b3);
                }

                if (k < 4)
                {
                    TV w4 = TOps.Create(Unsafe.Add(ref wr0, 4 * wi1));
                    a4 = TOps.MultiplyAdd(w4, xr, a4);
                    b4 = TOps.MultiplyAdd(w4, xq, b4);
                }

                if (k < 5)
                {
                    TV w5 = TOps.Create(Unsafe.Add(ref wr0, 5 * wi1));
                    a5 = TOps.MultiplyAdd(w5, xr, a5);
                    b5 = TOps.MultiplyAdd(w5, xq, b5);
                }

                if (k < 6)
                {
                    TV w6 = TOps.Create(Unsafe.Add(ref wr0, 6 * wi1));
                    a6 = TOps.MultiplyAdd(w6, xr, a6);
                    b6 = TOps.MultiplyAdd(w6, xq, b6);
                }

                TV w7 = TOps.Create(Unsafe.Add(ref wr0, 7 * wi1));
                a7 = TOps.MultiplyAdd(w7, xr, a7);
                b7 = TOps.MultiplyAdd(w7, xq, b7);
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
                a0 = TOps.MultiplyAdd(TOps.Create(wr0), xr, a0);
                if (k >= 1)
                {
                    a1 = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref wr0, wi1)), xr, a1);
                }

                if (k >= 2)
                {
                    a2 = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref wr0, 2 * wi1)), xr, a2);
                }

                if (k >= 3)
                {
                    a3 = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref wr0, 3 * wi1)), xr, a3);
                }

                if (k >= 4)
                {
                    a4 = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref wr0, 4 * wi1)), xr, a4);
                }

                if (k >= 5)
                {
                    a5 = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref wr0, 5 * wi1)), xr, a5);
                }

                if (k >= 6)
                {
                    a6 = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref wr0, 6 * wi1)), xr, a6);
                }
            }

            for (int r = commonLo; r < commonHi; r++)
            {
                TV xr = TOps.Load(ref x, ((nint)r * stride) + c);
                ref float wr0 = ref Unsafe.Add(ref w, (nint)r * wr);
                a0 = TOps.MultiplyAdd(TOps.Create(wr0), xr, a0);
                a1 = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref wr0, wi1)), xr, a1);
                a2 = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref wr0, 2 * wi1)), xr, a2);
                a3 = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref wr0, 3 * wi1)), xr, a3);
                a4 = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref wr0, 4 * wi1)), xr, a4);
                a5 = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref wr0, 5 * wi1)), xr, a5);
                a6 = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref wr0, 6 * wi1)), xr, a6);
                a7 = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref wr0, 7 * wi1)), xr, a7);
            }

            for (int r = commonHi; r < hi + (7 * hiStep); r++)
            {
                TV xr = TOps.Load(ref x, ((nint)r * stride) + c);
                ref float wr0 = ref Unsafe.Add(ref w, (nint)r * wr);
                int k = r - hi; // hiStep is 1 here: row i takes r while r < hi + i
                if (k < 1)
                {
                    a1 = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref wr0, wi1)), xr, a1);
                }

                if (k < 2)
                {
                    a2 = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref wr0, 2 * wi1)), xr, a2);
                }

                if (k < 3)
                {
                    a3 = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref wr0, 3 * wi1)), xr, a3);
                }

                if (k < 4)
                {
                    a4 = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref wr0, 4 * wi1)), xr, a4);
                }

                if (k < 5)
                {
                    a5 = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref wr0, 5 * wi1)), xr, a5);
                }

                if (k < 6)
                {
                    a6 = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref wr0, 6 * wi1)), xr, a6);
                }

                a7 = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref wr0, 7 * wi1)), xr, a7);
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
}
