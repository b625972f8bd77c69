using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Xent.Kernels;

/// <summary>
/// Computes <see cref="BlockStatistics"/> of one block (<see cref="CrossEntropyKernel.BlockColumns"/>): for class-index targets with nothing to store one
/// pass with per-lane running maxima, gathering sum w z on the way for label smoothing (measured 5-20% faster than
/// two passes on Zen 5, 1.5x with smoothing: 9.7 -> 6.5 ms at 2048 x 32000); otherwise a max pass, then an
/// exp-sum pass over the same, now cached, block (the stored exponentials must share one shift, the block's max). Remainders use a
/// last vector shifted back to end at the block's end, with its already counted lanes masked out of the sums
/// (max needs no mask: counting a lane twice changes nothing).
/// </summary>
internal static class StatisticsKernel
{
    /// <summary>How far ahead (8 KB) the single-pass loop prefetches: memory time the exps can hide.</summary>
    private const int PrefetchAheadBytes = 8192;

    /// <param name="width">Widest vector width allowed.</param>
    /// <param name="z">The block's (soft-capped) logits, at least one.</param>
    /// <param name="weights">The block's class weights, or empty for all 1.</param>
    /// <param name="probabilities">The block's target probabilities, or empty for class-index targets.</param>
    /// <param name="weightedLogits">Whether to gather sum w z (label smoothing).</param>
    /// <param name="exps">Empty, or where to write exp(z - shift) (the plain path only; may be z's memory).</param>
    /// <param name="prefetchNext">Whether z is pinned memory followed by the next block to read (the logits
    /// themselves, not a scratch copy): then the exp pass prefetches what follows z. Prefetches never fault.</param>
    public static BlockStatistics Compute(VectorWidth width, ReadOnlySpan<float> z, ReadOnlySpan<float> weights, ReadOnlySpan<float> probabilities, bool weightedLogits, Span<float> exps = default, bool prefetchNext = false) =>
        Widths.Fit(width, z.Length) switch
        {
            VectorWidth.V512 => Compute512(z, weights, probabilities, weightedLogits, exps, prefetchNext),
            VectorWidth.V256 => Compute256(z, weights, probabilities, weightedLogits, exps, prefetchNext),
            VectorWidth.V128 => Compute128(z, weights, probabilities, weightedLogits, exps, prefetchNext),
            _ => ComputeScalar(z, weights, probabilities, weightedLogits, exps, prefetchNext),
        };

    // One plain method per width, so that compiling the dispatcher above (unoptimised, on a process's first call)
    // resolves no generic instantiation: naming all four widths' instantiations there loaded every width's operator
    // types and took ~60% as long as the kernel's own compilation. Only the width used is compiled and loaded.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static BlockStatistics Compute512(ReadOnlySpan<float> z, ReadOnlySpan<float> weights, ReadOnlySpan<float> probabilities, bool weightedLogits, Span<float> exps, bool prefetchNext) =>
        Compute<Vector512Ops, Vector512<float>>(z, weights, probabilities, weightedLogits, exps, prefetchNext);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static BlockStatistics Compute256(ReadOnlySpan<float> z, ReadOnlySpan<float> weights, ReadOnlySpan<float> probabilities, bool weightedLogits, Span<float> exps, bool prefetchNext) =>
        Compute<Vector256Ops, Vector256<float>>(z, weights, probabilities, weightedLogits, exps, prefetchNext);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static BlockStatistics Compute128(ReadOnlySpan<float> z, ReadOnlySpan<float> weights, ReadOnlySpan<float> probabilities, bool weightedLogits, Span<float> exps, bool prefetchNext) =>
        Compute<Vector128Ops, Vector128<float>>(z, weights, probabilities, weightedLogits, exps, prefetchNext);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static BlockStatistics ComputeScalar(ReadOnlySpan<float> z, ReadOnlySpan<float> weights, ReadOnlySpan<float> probabilities, bool weightedLogits, Span<float> exps, bool prefetchNext) =>
        Compute<ScalarOps, float>(z, weights, probabilities, weightedLogits, exps, prefetchNext);

    /// <summary>
    /// The plain statistics (nothing stored, class-index targets) of a block of 16-bit logits (bfloat16 or Half) read
    /// in place: the single-pass loop widens each vector as it loads it, so the block is read once, at half the bytes
    /// of float, and never copied. The same algorithm, lane for lane, as <see cref="Compute(VectorWidth, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, bool, Span{float}, bool)"/>
    /// on the widened values, so the results are bitwise the float path's; blocks too short for it (and the scalar
    /// fallback) are widened into <paramref name="scratch"/> and computed there.
    /// </summary>
    /// <typeparam name="T"><see cref="BFloat16"/> or <see cref="Half"/>.</typeparam>
    /// <param name="width">Widest vector width allowed.</param>
    /// <param name="z">The block's logits, at least one.</param>
    /// <param name="weights">The block's class weights, or empty for all 1.</param>
    /// <param name="weightedLogits">Whether to gather sum w z (label smoothing).</param>
    /// <param name="scratch">Room for the block widened to float, at least z.Length.</param>
    /// <param name="prefetchNext">Whether z is followed by the next block to read (prefetches never fault).</param>
    public static BlockStatistics Compute<T>(VectorWidth width, ReadOnlySpan<T> z, ReadOnlySpan<float> weights, bool weightedLogits, Span<float> scratch, bool prefetchNext)
        where T : unmanaged
    {
        bool half = typeof(T) == typeof(Half);
        var result = default(BlockStatistics);
        var w = weightedLogits ? weights : default;
        ref byte x = ref Unsafe.As<T, byte>(ref MemoryMarshal.GetReference(z));
        int n = z.Length;
        switch (Widths.Fit(width, n))
        {
            case VectorWidth.V512 when n >= OnlineChunk * Vector512<float>.Count:
                if (half)
                {
                    OnlineMaxExpSum<Vector512Ops, Vector512<float>, HalfLanes512>(ref x, n, w, weightedLogits, prefetchNext, ref result);
                }
                else
                {
                    OnlineMaxExpSum<Vector512Ops, Vector512<float>, BFloat16Lanes512>(ref x, n, w, weightedLogits, prefetchNext, ref result);
                }

                return result;
            case VectorWidth.V256 when n >= OnlineChunk * Vector256<float>.Count:
                if (half)
                {
                    OnlineMaxExpSum<Vector256Ops, Vector256<float>, HalfLanes256>(ref x, n, w, weightedLogits, prefetchNext, ref result);
                }
                else
                {
                    OnlineMaxExpSum<Vector256Ops, Vector256<float>, BFloat16Lanes256>(ref x, n, w, weightedLogits, prefetchNext, ref result);
                }

                return result;
            case VectorWidth.V128 when n >= OnlineChunk * Vector128<float>.Count:
                if (half)
                {
                    OnlineMaxExpSum<Vector128Ops, Vector128<float>, HalfLanes128>(ref x, n, w, weightedLogits, prefetchNext, ref result);
                }
                else
                {
                    OnlineMaxExpSum<Vector128Ops, Vector128<float>, BFloat16Lanes128>(ref x, n, w, weightedLogits, prefetchNext, ref result);
                }

                return result;
            default:
                var s = scratch.Slice(0, n);
                if (half)
                {
                    System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<T, Half>(z), s);
                }
                else
                {
                    BFloat16.ConvertToSingle(MemoryMarshal.Cast<T, BFloat16>(z), s);
                }

                return Compute(width, s, weights, default, weightedLogits);
        }
    }

    // Straight to optimised code: dynamic PGO was measured to make these loops ~2.5x slower.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static BlockStatistics Compute<TOps, TV>(ReadOnlySpan<float> z, ReadOnlySpan<float> weights, ReadOnlySpan<float> probabilities, bool weightedLogits, Span<float> exps, bool prefetchNext)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        var result = default(BlockStatistics);
        // Not for the scalar fallback: there the rescaling exp per chunk of 8 is 12% more exps (measured 10% slower).
        if (TOps.Count > 1 && exps.IsEmpty && probabilities.IsEmpty && z.Length >= OnlineChunk * TOps.Count)
        {
            ref byte x = ref Unsafe.As<float, byte>(ref MemoryMarshal.GetReference(z));
            OnlineMaxExpSum<TOps, TV, SingleLanes<TOps, TV>>(ref x, z.Length, weightedLogits ? weights : default, weightedLogits, prefetchNext, ref result);
            return result;
        }

        result.Max = BlockMax<TOps, TV, SingleLanes<TOps, TV>>(ref Unsafe.As<float, byte>(ref MemoryMarshal.GetReference(z)), z.Length, default);

        // A block of only -inf (and NaN) has max -inf: sum relative to 0 instead, which gives 0 (or NaN), not
        // exp(-inf - -inf) = NaN.
        float shift = result.Max == float.NegativeInfinity ? 0f : result.Max;
        if (!weightedLogits && probabilities.IsEmpty)
        {
            result.Sum = ExpSum<TOps, TV>(z, shift, exps, prefetchNext);
        }
        else
        {
            ExpSumWeighted<TOps, TV>(z, shift, weights, probabilities, weightedLogits, ref result);
        }

        return result;
    }

    /// <summary>Vectors per chunk of the single-pass loop: one rescaling exp per chunk, not per element.</summary>
    private const int OnlineChunk = 8;

    /// <summary>
    /// How far (in powers of two) a chunk may rise above the lanes' shift before the single-pass loop raises it:
    /// exps of up to 2^1 lose no accuracy and cannot overflow, and once the shift is near the block's max the
    /// rescaling exp and its dependency are skipped for most chunks (the loop is bound by arithmetic, not memory,
    /// once the logits are bfloat16 or the vectors 256 bits wide).
    /// </summary>
    private const float OnlineHeadroom = 1f;

    /// <summary>
    /// Blocks whose max is this far from 0 (or NaN, or whose log2-units sum is not finite) take a second pass in
    /// natural units instead (<see cref="SumNatural"/>): beyond it a lane's shift m = fl(c log2 e) is a float too
    /// coarse for the terms 2^(z log2 e - m) (they could reach 2^(ulp(m) / 2) and overflow), and z log2 e itself
    /// overflows below -2.4e38; a block of only -inf (max -float.MaxValue) lands here too. Logits are never near
    /// this in practice, so the second pass costs nothing there.
    /// </summary>
    private const float Log2Limit = 1 << 21;

    /// <summary>
    /// Max and exp-sum in one pass (the plain loss: nothing stored, nothing weighted), so each logit is read once,
    /// straight from memory, instead of a max pass and an exp pass over the L1 copy. Each lane keeps its own
    /// shift m, in powers of two (log2 units), and a sum of 2^(z log2(e) - m): one FMA and the exp's core per
    /// element, no subtraction and no multiplication (the old loop took exp(z - m) with m in natural units:
    /// 0.141 -> 0.131 ns per element, bfloat16 at 256 bits, one Zen 5 core, block in L1). m is never rounded from
    /// a natural-units shift, so each term is as accurate as exp(z - m) would be. A chunk of vectors that rises
    /// above m + <see cref="OnlineHeadroom"/> in some lane raises m to the chunk's lane-wise max (times log2 e) and
    /// rescales the sum by 2^(m_old - m_new). The true lane-wise max is kept beside m; the lanes merge once, at the
    /// block's end, to the block's max M, by 2^(m - M log2(e)) with M log2(e) split exactly in two floats. m starts at
    /// -float.MaxValue, not -inf, so that -inf logits give 2^-inf = 0 and never NaN. Without hardware FMA m is in
    /// natural units instead, the old loop's form (<see cref="InShiftUnits"/>).
    /// With <paramref name="weightedLogits"/> it also sums w z (w = 1 when <paramref name="weights"/> is empty).
    /// <typeparamref name="TLanes"/> says how the n logits at <paramref name="x"/> are stored and widened.
    /// </summary>
    // Straight to optimised code: dynamic PGO was measured to make these loops ~2.5x slower.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void OnlineMaxExpSum<TOps, TV, TLanes>(ref byte x, int n, ReadOnlySpan<float> weights, bool weightedLogits, bool prefetch, ref BlockStatistics result)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TLanes : struct, ILogitLanes<TV>
    {
        // Pinned for the lanes' loads, which may take the address (see ILogitLanes.Load).
        // Whether w z is summed is a type, not a bool, so that the plain loop is compiled without it: there the
        // loaded vectors die at their exps, which frees registers (8 vectors and the exp's constants are live).
        fixed (byte* pinned = &x)
        {
            if (weightedLogits)
            {
                OnlineMaxExpSumPinned<TOps, TV, TLanes, Yes>(ref x, n, weights, prefetch, ref result);
            }
            else
            {
                OnlineMaxExpSumPinned<TOps, TV, TLanes, No>(ref x, n, weights, prefetch, ref result);
            }
        }
    }

    // Straight to optimised code: dynamic PGO was measured to make these loops ~2.5x slower.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OnlineMaxExpSumPinned<TOps, TV, TLanes, TWeighted>(ref byte x, int n, ReadOnlySpan<float> weights, bool prefetch, ref BlockStatistics result)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TLanes : struct, ILogitLanes<TV>
        where TWeighted : struct, IConstant
    {
        bool weightedLogits = TWeighted.Value;
        int k = TOps.Count, size = TLanes.ElementSize;
        bool hasWeights = !weights.IsEmpty;
        ref float w = ref MemoryMarshal.GetReference(weights);
        TV log2e = TOps.Create(ExpConstants.Log2E), zero = TOps.Create(0f);
        TV m = TOps.Create(-float.MaxValue), minusM = TOps.Create(float.MaxValue), s = zero, wz = zero, top = m, one = TOps.Create(1f);
        TV headroom = TOps.Create(Fma.IsSupported || AdvSimd.IsSupported ? OnlineHeadroom : OnlineHeadroom / ExpConstants.Log2E), ceiling = TOps.Add(m, headroom);
        nint i = 0;
        for (; i <= n - (OnlineChunk * k); i += OnlineChunk * k)
        {
            if (prefetch)
            {
                PrefetchChunk(ref Unsafe.Add(ref x, (i * size) + PrefetchAheadBytes), OnlineChunk * k * size);
            }

            TV v0 = TLanes.Load(ref x, i), v1 = TLanes.Load(ref x, i + k), v2 = TLanes.Load(ref x, i + (2 * k)), v3 = TLanes.Load(ref x, i + (3 * k));
            TV v4 = TLanes.Load(ref x, i + (4 * k)), v5 = TLanes.Load(ref x, i + (5 * k)), v6 = TLanes.Load(ref x, i + (6 * k)), v7 = TLanes.Load(ref x, i + (7 * k));
            TV c = TOps.Max(TOps.Max(TOps.Max(v0, v1), TOps.Max(v2, v3)), TOps.Max(TOps.Max(v4, v5), TOps.Max(v6, v7)));
            top = TOps.Max(top, c);
            TV r = one;
            TV cl = InShiftUnits<TOps, TV>(c, log2e);
            if (!TOps.AllLessThan(cl, ceiling))
            {
                TV mNew = TOps.Max(m, cl);
                r = TOps.Exp2(ShiftExponent<TOps, TV>(m, mNew, log2e));
                m = mNew;
                minusM = TOps.Subtract(zero, m);
                ceiling = TOps.Add(m, headroom);
            }

            TV e0 = TOps.Exp2(TermExponent<TOps, TV>(v0, log2e, minusM)), e1 = TOps.Exp2(TermExponent<TOps, TV>(v1, log2e, minusM));
            TV e2 = TOps.Exp2(TermExponent<TOps, TV>(v2, log2e, minusM)), e3 = TOps.Exp2(TermExponent<TOps, TV>(v3, log2e, minusM));
            TV e4 = TOps.Exp2(TermExponent<TOps, TV>(v4, log2e, minusM)), e5 = TOps.Exp2(TermExponent<TOps, TV>(v5, log2e, minusM));
            TV e6 = TOps.Exp2(TermExponent<TOps, TV>(v6, log2e, minusM)), e7 = TOps.Exp2(TermExponent<TOps, TV>(v7, log2e, minusM));
            TV chunk = TOps.Add(TOps.Add(TOps.Add(e0, e1), TOps.Add(e2, e3)), TOps.Add(TOps.Add(e4, e5), TOps.Add(e6, e7)));
            s = TOps.MultiplyAdd(s, r, chunk);
            if (weightedLogits)
            {
                if (hasWeights)
                {
                    v0 = TOps.Multiply(v0, TOps.Load(ref w, i));
                    v1 = TOps.Multiply(v1, TOps.Load(ref w, i + k));
                    v2 = TOps.Multiply(v2, TOps.Load(ref w, i + (2 * k)));
                    v3 = TOps.Multiply(v3, TOps.Load(ref w, i + (3 * k)));
                    v4 = TOps.Multiply(v4, TOps.Load(ref w, i + (4 * k)));
                    v5 = TOps.Multiply(v5, TOps.Load(ref w, i + (5 * k)));
                    v6 = TOps.Multiply(v6, TOps.Load(ref w, i + (6 * k)));
                    v7 = TOps.Multiply(v7, TOps.Load(ref w, i + (7 * k)));
                }

                wz = TOps.Add(wz, TOps.Add(TOps.Add(TOps.Add(v0, v1), TOps.Add(v2, v3)), TOps.Add(TOps.Add(v4, v5), TOps.Add(v6, v7))));
            }
        }

        // Whole vectors left over, one at a time, then the shifted-back last vector with its counted lanes masked.
        for (; NextVector(ref i, n, k, out int skip); i += k)
        {
            TV v = TLanes.Load(ref x, i);
            top = TOps.Max(top, v);
            TV mNew = TOps.Max(m, InShiftUnits<TOps, TV>(v, log2e));
            TV r = TOps.Exp2(ShiftExponent<TOps, TV>(m, mNew, log2e));
            m = mNew;
            TV e = TOps.Exp2(TermExponent<TOps, TV>(v, log2e, TOps.Subtract(zero, m)));
            TV wv = hasWeights ? TOps.Multiply(v, TOps.Load(ref w, i)) : v;
            if (skip > 0)
            {
                // Mask the products, not a factor: 0 * -inf would be NaN.
                e = TOps.KeepFrom(e, skip);
                wv = TOps.KeepFrom(wv, skip);
            }

            s = TOps.MultiplyAdd(s, r, e);
            if (weightedLogits)
            {
                wz = TOps.Add(wz, wv);
            }
        }

        float max = TOps.MaxAcross(top);
        result.WeightedLogits = weightedLogits ? TOps.Sum(wz) : 0f;
        float sum = float.NaN;
        if (MathF.Abs(max) < Log2Limit)
        {
            // The sum relative to M: 2^(m - M log2 e), with M log2 e = hi + lo exactly, so that no rounding of it
            // skews the sum.
            if (Fma.IsSupported || AdvSimd.IsSupported)
            {
                float hi = max * ExpConstants.Log2E;
                float lo = MathF.FusedMultiplyAdd(max, ExpConstants.Log2E, -hi);
                sum = TOps.Sum(TOps.Multiply(s, TOps.Exp2(TOps.Subtract(TOps.Subtract(m, TOps.Create(hi)), TOps.Create(lo)))));
            }
            else
            {
                // m in natural units (see TermExponent): 2^((m - M) log2 e).
                sum = TOps.Sum(TOps.Multiply(s, TOps.Exp2(ShiftExponent<TOps, TV>(m, TOps.Create(max), log2e))));
            }
        }

        if (!float.IsFinite(sum))
        {
            sum = SumNatural<TOps, TV, TLanes>(ref x, n, max);
        }

        // Every finite logit adds at least exp(0) = 1: a zero sum at the starting max means only -inf.
        result.Max = sum == 0f && max == -float.MaxValue ? float.NegativeInfinity : max;
        result.Sum = sum;
    }

    /// <summary>
    /// A logit in the units of the single-pass loop's shift m: powers of two (z log2 e) where fused multiply-add is
    /// hardware (<see cref="Simd.FusedMultiplyAddIsHardware"/>), natural units (z itself) where it is not. A term is
    /// 2^(z log2 e - m), one FMA, there; without FMA the product z log2 e would be rounded before m is subtracted,
    /// an error of |z| 2^-24 in every exponent (8e-5 relative at z = 2500: the large-logit tests see it), so there
    /// the term is 2^((z - m) log2 e), whose error is |z - m| 2^-24 as in exp(z - m): a subtraction and a product,
    /// as many operations as the unfused multiply-add. Both are JIT-time constants: one loop or the other is compiled.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV InShiftUnits<TOps, TV>(TV z, TV log2e)
        where TOps : struct, IVectorOps<TV>
        where TV : struct =>
        Fma.IsSupported || AdvSimd.IsSupported ? TOps.Multiply(z, log2e) : z;

    /// <summary>The exponent of the term 2^(z log2 e - m) (see <see cref="InShiftUnits"/>), given -m.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV TermExponent<TOps, TV>(TV z, TV log2e, TV minusM)
        where TOps : struct, IVectorOps<TV>
        where TV : struct =>
        Fma.IsSupported || AdvSimd.IsSupported ? TOps.MultiplyAdd(z, log2e, minusM) : TOps.Multiply(TOps.Add(z, minusM), log2e);

    /// <summary>The exponent that moves a sum from shift <paramref name="from"/> to <paramref name="to"/> (see <see cref="InShiftUnits"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV ShiftExponent<TOps, TV>(TV from, TV to, TV log2e)
        where TOps : struct, IVectorOps<TV>
        where TV : struct =>
        Fma.IsSupported || AdvSimd.IsSupported ? TOps.Subtract(from, to) : TOps.Multiply(TOps.Subtract(from, to), log2e);

    /// <summary>sum exp(z - max) over a block: the plain second pass in natural units (see <see cref="Log2Limit"/>).</summary>
    private static float SumNatural<TOps, TV, TLanes>(ref byte x, int n, float max)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TLanes : struct, ILogitLanes<TV>
    {
        TV shift = TOps.Create(max), s = TOps.Create(0f);
        for (nint i = 0; NextVector(ref i, n, TOps.Count, out int skip); i += TOps.Count)
        {
            TV e = TOps.Exp(TOps.Subtract(TLanes.Load(ref x, i), shift));
            s = TOps.Add(s, skip > 0 ? TOps.KeepFrom(e, skip) : e);
        }

        return TOps.Sum(s);
    }

    /// <summary>
    /// The statistics of a block of bfloat16 logits with its exponentials stored, exactly as <see cref="Compute(VectorWidth, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, bool, Span{float}, bool)"/>
    /// computes them for the widened block with <c>exps</c> (the float path of a float gradient): the max pass widens
    /// the block into <paramref name="exps"/> as it reads it, and the exp pass runs over that in place.
    /// </summary>
    /// <param name="width">Widest vector width allowed.</param>
    /// <param name="z">The block's logits, at least one.</param>
    /// <param name="exps">Where exp(z - shift) goes [z.Length].</param>
    public static BlockStatistics ComputeWithExponentials(VectorWidth width, ReadOnlySpan<BFloat16> z, Span<float> exps) =>
        Widths.Fit(width, z.Length) switch
        {
            VectorWidth.V512 => WithExponentials<Vector512Ops, Vector512<float>, BFloat16Lanes512>(z, exps),
            VectorWidth.V256 => WithExponentials<Vector256Ops, Vector256<float>, BFloat16Lanes256>(z, exps),
            VectorWidth.V128 => WithExponentials<Vector128Ops, Vector128<float>, BFloat16Lanes128>(z, exps),
            _ => WithExponentials<ScalarOps, float, BFloat16Lanes1>(z, exps),
        };

    private static BlockStatistics WithExponentials<TOps, TV, TLanes>(ReadOnlySpan<BFloat16> z, Span<float> exps)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TLanes : struct, IWritableLanes<TV>
    {
        var e = exps.Slice(0, z.Length);
        var result = default(BlockStatistics);
        result.Max = BlockMax<TOps, TV, TLanes>(ref Unsafe.As<BFloat16, byte>(ref MemoryMarshal.GetReference(z)), z.Length, e);
        float shift = result.Max == float.NegativeInfinity ? 0f : result.Max;
        result.Sum = ExpSum<TOps, TV>(e, shift, e, false);
        return result;
    }

    /// <summary>
    /// The block's max; with <paramref name="widened"/> non-empty, every vector it loads is also stored there as
    /// floats (the same loads in the same order whatever the lanes, so the max is the same bits).
    /// </summary>
    // Straight to optimised code: dynamic PGO was measured to make these loops ~2.5x slower.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe float BlockMax<TOps, TV, TLanes>(ref byte x, int n, Span<float> widened)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TLanes : struct, ILogitLanes<TV>
    {
        // Pinned for the lanes' loads, which may take the address (see ILogitLanes.Load).
        fixed (byte* pinned = &x)
        {
            return BlockMaxPinned<TOps, TV, TLanes>(ref x, n, widened);
        }
    }

    // Straight to optimised code: dynamic PGO was measured to make these loops ~2.5x slower.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float BlockMaxPinned<TOps, TV, TLanes>(ref byte x, int n, Span<float> widened)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TLanes : struct, ILogitLanes<TV>
    {
        int k = TOps.Count;
        bool store = !widened.IsEmpty;
        ref float d = ref MemoryMarshal.GetReference(widened);
        TV m0 = TLanes.Load(ref x, n - k), m1 = m0, m2 = m0, m3 = m0;
        if (store)
        {
            TOps.Store(m0, ref d, n - k);
        }

        nint i = 0;
        for (; i <= n - (4 * k); i += 4 * k)
        {
            TV v0 = TLanes.Load(ref x, i), v1 = TLanes.Load(ref x, i + k), v2 = TLanes.Load(ref x, i + (2 * k)), v3 = TLanes.Load(ref x, i + (3 * k));
            if (store)
            {
                TOps.Store(v0, ref d, i);
                TOps.Store(v1, ref d, i + k);
                TOps.Store(v2, ref d, i + (2 * k));
                TOps.Store(v3, ref d, i + (3 * k));
            }

            m0 = TOps.Max(m0, v0);
            m1 = TOps.Max(m1, v1);
            m2 = TOps.Max(m2, v2);
            m3 = TOps.Max(m3, v3);
        }

        for (; i <= n - k; i += k)
        {
            TV v = TLanes.Load(ref x, i);
            if (store)
            {
                TOps.Store(v, ref d, i);
            }

            m0 = TOps.Max(m0, v);
        }

        return TOps.MaxAcross(TOps.Max(TOps.Max(m0, m1), TOps.Max(m2, m3)));
    }

    // Straight to optimised code: dynamic PGO was measured to make these loops ~2.5x slower.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float ExpSum<TOps, TV>(ReadOnlySpan<float> z, float shift, Span<float> exps, bool prefetch)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        int n = z.Length, k = TOps.Count;
        bool store = !exps.IsEmpty;
        ref float x = ref MemoryMarshal.GetReference(z);
        ref float d = ref MemoryMarshal.GetReference(exps);
        TV m = TOps.Create(shift);

        // The shifted-back last vector first: with exps over z (in place) its lanes are about to be overwritten.
        nint last = n - k;
        TV tail = TOps.Exp(TOps.Subtract(TOps.Load(ref x, last), m));
        TV s0 = TOps.Create(0f), s1 = s0;
        nint i = 0;
        for (; i <= n - (2 * k); i += 2 * k)
        {
            if (prefetch)
            {
                // The exp pass has the block in cache and leaves memory idle: fetch the next block meanwhile, so
                // that memory and arithmetic overlap instead of taking turns (measured on one core: 0.30 -> 0.24 ns per element).
                Prefetch(ref Unsafe.Add(ref x, n + i));
            }

            TV e0 = TOps.Exp(TOps.Subtract(TOps.Load(ref x, i), m));
            TV e1 = TOps.Exp(TOps.Subtract(TOps.Load(ref x, i + k), m));
            if (store)
            {
                TOps.Store(e0, ref d, i);
                TOps.Store(e1, ref d, i + k);
            }

            s0 = TOps.Add(s0, e0);
            s1 = TOps.Add(s1, e1);
        }

        if (i <= n - k)
        {
            TV e0 = TOps.Exp(TOps.Subtract(TOps.Load(ref x, i), m));
            if (store)
            {
                TOps.Store(e0, ref d, i);
            }

            s0 = TOps.Add(s0, e0);
            i += k;
        }

        int rest = n - (int)i;
        if (rest > 0)
        {
            s1 = TOps.Add(s1, TOps.KeepFrom(tail, k - rest));
        }

        if (store)
        {
            TOps.Store(tail, ref d, last);
        }

        return TOps.Sum(TOps.Add(s0, s1));
    }

    // Straight to optimised code: dynamic PGO was measured to make these loops ~2.5x slower.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ExpSumWeighted<TOps, TV>(ReadOnlySpan<float> z, float shift, ReadOnlySpan<float> weights, ReadOnlySpan<float> probabilities, bool weightedLogits, ref BlockStatistics result)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        int n = z.Length, k = TOps.Count;
        bool hasWeights = !weights.IsEmpty, hasTargets = !probabilities.IsEmpty;
        ref float x = ref MemoryMarshal.GetReference(z);
        ref float w = ref MemoryMarshal.GetReference(weights);
        ref float t = ref MemoryMarshal.GetReference(probabilities);
        TV m = TOps.Create(shift), one = TOps.Create(1f), zero = TOps.Create(0f);
        TV sum = zero, wz = zero, wtz = zero, wt = zero;
        nint i = 0;
        for (; NextVector(ref i, n, k, out int skip); i += k)
        {
            TV zi = TOps.Load(ref x, i);
            TV wi = hasWeights ? TOps.Load(ref w, i) : one;
            TV ei = TOps.Exp(TOps.Subtract(zi, m));
            TV wzi = weightedLogits ? TOps.Multiply(wi, zi) : zero;
            TV wti = hasTargets ? TOps.Multiply(wi, TOps.Load(ref t, i)) : zero;
            TV wtzi = hasTargets ? TOps.Multiply(wti, zi) : zero;
            if (skip > 0)
            {
                // Mask the products, not a factor: 0 * -inf would be NaN.
                ei = TOps.KeepFrom(ei, skip);
                wzi = TOps.KeepFrom(wzi, skip);
                wti = TOps.KeepFrom(wti, skip);
                wtzi = TOps.KeepFrom(wtzi, skip);
            }

            sum = TOps.Add(sum, ei);
            wz = TOps.Add(wz, wzi);
            wt = TOps.Add(wt, wti);
            wtz = TOps.Add(wtz, wtzi);
        }

        result.Sum = TOps.Sum(sum);
        result.WeightedLogits = TOps.Sum(wz);
        result.WeightedTargetLogits = TOps.Sum(wtz);
        result.WeightedTargets = TOps.Sum(wt);
    }

    /// <summary>prefetcht0 of every 64-byte line of the <paramref name="bytes"/> at <paramref name="address"/> (nothing
    /// without SSE); prefetches never fault, so the range may run past the buffer. The memory limits' reads and copies
    /// (Xent.Baselines) prefetch through it too, as the kernels do.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void PrefetchChunk(ref byte address, int bytes)
    {
        if (Sse.IsSupported)
        {
            byte* p = (byte*)Unsafe.AsPointer(ref address);
            for (int b = 0; b < bytes; b += 64)
            {
                Sse.Prefetch0(p + b);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Prefetch(ref float address)
    {
        if (Sse.IsSupported)
        {
            // Two cache lines per iteration (the loop takes 2 vectors of 64 bytes at 512 bits; more than enough
            // at narrower widths).
            byte* p = (byte*)Unsafe.AsPointer(ref address);
            Sse.Prefetch0(p);
            Sse.Prefetch0(p + 64);
        }
    }

    /// <summary>
    /// Steps over whole vectors of a block of n &gt;= k floats, the last one shifted back to end at n (no scalar
    /// tail): false once the block is done; <paramref name="skip"/> is how many of the current vector's first lanes
    /// an earlier vector already counted (0 except for the shifted-back last one).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool NextVector(ref nint i, int n, int k, out int skip)
    {
        skip = 0;
        if (i <= n - k)
        {
            return true;
        }

        int rest = n - (int)i;
        if (rest <= 0)
        {
            return false;
        }

        skip = k - rest;
        i = n - k;
        return true;
    }
}

/// <summary>A bool known when a generic method is compiled (<see cref="Yes"/> or <see cref="No"/>).</summary>
internal interface IConstant
{
    static abstract bool Value { get; }
}

/// <summary>true, as a type.</summary>
internal readonly struct Yes : IConstant
{
    public static bool Value => true;
}

/// <summary>false, as a type.</summary>
internal readonly struct No : IConstant
{
    public static bool Value => false;
}
