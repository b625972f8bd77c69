using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Xent.Kernels;

/// <content>
/// The single pass of the plain loss: max and exp-sum together, each lane with its own shift in powers of two.
/// </content>
internal static partial class StatisticsKernel
{
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
    // Straight to optimised code (dynamic PGO was measured to make these loops ~2.5x slower), and never
    // inlined (docs/benchmarks.md, How the kernels got here).
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
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
            float origin = weightedLogits ? WeightedOrigin<TOps, TV, TLanes>(ref x) : 0f;
            if (origin != 0f)
            {
                OnlineMaxExpSumPinned<TOps, TV, TLanes, Yes, Yes>(ref x, n, weights, prefetch, origin, ref result);
            }
            else if (weightedLogits)
            {
                OnlineMaxExpSumPinned<TOps, TV, TLanes, Yes, No>(ref x, n, weights, prefetch, 0f, ref result);
            }
            else
            {
                OnlineMaxExpSumPinned<TOps, TV, TLanes, No, No>(ref x, n, weights, prefetch, 0f, ref result);
            }
        }
    }

    // Straight to optimised code (dynamic PGO was measured to make these loops ~2.5x slower), and never
    // inlined (docs/benchmarks.md, How the kernels got here).
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void OnlineMaxExpSumPinned<TOps, TV, TLanes, TWeighted, TOrigin>(ref byte x, int n, ReadOnlySpan<float> weights, bool prefetch, float origin, ref BlockStatistics result)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TLanes : struct, ILogitLanes<TV>
        where TWeighted : struct, IConstant
        where TOrigin : struct, IConstant
    {
        // With TOrigin (see WeightedOrigin) w z is summed as w (z - origin), in float over OriginFlush chunks, then in double.
        TV o = TOps.Create(origin);
        double logits = 0;
        int pending = 0;
        bool weightedLogits = TWeighted.Value;
        int k = TOps.Count, size = TLanes.ElementSize;
        bool hasWeights = !weights.IsEmpty;
        ref float w = ref MemoryMarshal.GetReference(weights);
        TV log2e = TOps.Create(ExpConstants.Log2E), zero = TOps.Create(0f);
        TV m = TOps.Create(-float.MaxValue), minusM = TOps.Create(float.MaxValue), s = zero, wz = zero, top = m, one = TOps.Create(1f);

        // s holds each lane's sum less off, the term of the logit offZ that last raised its shift (about 1; 0 before
        // any finite logit): see Rescale. Beside a term of 1, float drops the terms under 2^-25, all of them where one
        // logit leads by 17, and with them the loss.
        TV off = zero, offZ = TOps.Create(float.NegativeInfinity);
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
            TV cl = InShiftUnits<TOps, TV>(c, log2e);
            if (!TOps.AllLessThan(cl, ceiling))
            {
                TV mNew = TOps.Max(m, cl);
                s = Rescale<TOps, TV>(s, ref off, ref offZ, m, mNew, c, log2e);
                m = mNew;
                minusM = TOps.Subtract(zero, m);
                ceiling = TOps.Add(m, headroom);
            }

            // The chunk's terms summed as they come, in the tree ((e0 + e1) + (e2 + e3)) + ((e4 + e5) + (e6 + e7)): summed
            // at the end, the eight terms stayed live through the exps and spilled with AVX2's 16 registers.
            TV e01 = TOps.Add(TOps.Exp2(TermExponent<TOps, TV>(v0, log2e, minusM)), TOps.Exp2(TermExponent<TOps, TV>(v1, log2e, minusM)));
            TV e03 = TOps.Add(e01, TOps.Add(TOps.Exp2(TermExponent<TOps, TV>(v2, log2e, minusM)), TOps.Exp2(TermExponent<TOps, TV>(v3, log2e, minusM))));
            TV e45 = TOps.Add(TOps.Exp2(TermExponent<TOps, TV>(v4, log2e, minusM)), TOps.Exp2(TermExponent<TOps, TV>(v5, log2e, minusM)));
            TV e47 = TOps.Add(e45, TOps.Add(TOps.Exp2(TermExponent<TOps, TV>(v6, log2e, minusM)), TOps.Exp2(TermExponent<TOps, TV>(v7, log2e, minusM))));
            s = TOps.Add(s, TOps.Add(e03, e47));
            if (weightedLogits)
            {
                if (TOrigin.Value)
                {
                    v0 = TOps.Subtract(v0, o);
                    v1 = TOps.Subtract(v1, o);
                    v2 = TOps.Subtract(v2, o);
                    v3 = TOps.Subtract(v3, o);
                    v4 = TOps.Subtract(v4, o);
                    v5 = TOps.Subtract(v5, o);
                    v6 = TOps.Subtract(v6, o);
                    v7 = TOps.Subtract(v7, o);
                }

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
                if (TOrigin.Value && ++pending == OriginFlush)
                {
                    logits += TOps.SumWide(wz);
                    wz = zero;
                    pending = 0;
                }
            }
        }

        // Whole vectors left over, one at a time, then the shifted-back last vector with its counted lanes masked.
        for (; NextVector(ref i, n, k, out int skip); i += k)
        {
            TV v = TLanes.Load(ref x, i);
            top = TOps.Max(top, v);

            // The shift follows the lanes this vector adds: a counted lane's term is not in it to cancel off.
            TV added = skip > 0 ? NegativeInfinityBelow<TOps, TV>(v, skip) : v;
            TV mNew = TOps.Max(m, InShiftUnits<TOps, TV>(added, log2e));
            s = Rescale<TOps, TV>(s, ref off, ref offZ, m, mNew, added, log2e);
            m = mNew;
            TV e = TOps.Exp2(TermExponent<TOps, TV>(v, log2e, TOps.Subtract(zero, m)));
            TV vo = TOrigin.Value ? TOps.Subtract(v, o) : v;
            TV wv = hasWeights ? TOps.Multiply(vo, TOps.Load(ref w, i)) : vo;
            if (skip > 0)
            {
                // Mask the products, not a factor: 0 * -inf would be NaN.
                e = TOps.KeepFrom(e, skip);
                wv = TOps.KeepFrom(wv, skip);
            }

            s = TOps.Add(s, e);
            if (weightedLogits)
            {
                wz = TOps.Add(wz, wv);
            }
        }

        float max = TOps.MaxAcross(top);
        result.WeightedLogits = !weightedLogits ? 0f
            : TOrigin.Value ? logits + TOps.SumWide(wz) + (origin * (hasWeights ? WeightSum(weights.Slice(0, n)) : n))
            : TOps.Sum(wz);
        double sum = double.NaN;
        if (MathF.Abs(max) < Log2Limit)
        {
            // m in natural units without FMA (see TermExponent): 2^((m - M) log2 e).
            TV toMax = Fma.IsSupported || AdvSimd.IsSupported
                ? ToMax<TOps, TV>(m, max)
                : TOps.Exp2(ShiftExponent<TOps, TV>(m, TOps.Create(max), log2e));

            // In double: the lanes' max terms, 1 and those below it, are as far apart as the terms within a lane. The
            // max's own term is exp(M - M) = 1, exactly: off toMax would carry the rounding of two exps.
            TV lead = TOps.Select(TOps.LessThan(offZ, TOps.Create(max)), TOps.Multiply(off, toMax), one);
            TV lanes = TOps.Multiply(s, toMax);
            sum = TOps.SumWide(lanes, lead);
            if (sum < DominatedSum)
            {
                sum = LeadLaneApart<TOps, TV, TLanes>(ref x, n, max, offZ, lanes, lead, default, one, one);
            }
        }

        if (!double.IsFinite(sum))
        {
            sum = SumNatural<TOps, TV, TLanes>(ref x, n, max);
        }

        // Every finite logit adds at least exp(0) = 1: a zero sum at the starting max means only -inf.
        result.Max = sum == 0f && max == -float.MaxValue ? float.NegativeInfinity : max;
        result.Sum = sum;
    }

    /// <summary>
    /// Chunks (vectors, in the two-pass loops) whose sums w (z - origin) the loops add in float before they carry them
    /// on in double (see <see cref="WeightedOrigin"/>).
    /// </summary>
    private const int OriginFlush = 8;

    /// <summary>
    /// How far from 0 the block's origin must be before the loops that sum w z (label smoothing) take it: the first
    /// vector's max (its logit at the scalar width). From 0 a sum of w z rounds each term relative to the logits'
    /// common offset, not to their spread: at an offset of 1e4 (V 50257) 5e-6 to 1.8e-5 of the loss by the width, at
    /// 1e5 up to 7e-4. Below this floor the float sum from 0 keeps the loss to float's level, and the loops run as
    /// they always did, bit for bit.
    /// </summary>
    private const float OriginFloor = 64f;

    /// <summary>
    /// The origin o the loops sum w z from, as w (z - o) plus o sum w in double: the max of the block's first vector
    /// where it is finite and at least <see cref="OriginFloor"/> from 0, else 0 (no origin: the plain float sum). A
    /// function of the block's logits alone, so a row gives the same bits alone or in any batch.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float WeightedOrigin<TOps, TV, TLanes>(ref byte x)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TLanes : struct, ILogitLanes<TV>
    {
        float origin = TOps.MaxAcross(TLanes.Load(ref x, 0));
        return float.IsFinite(origin) && MathF.Abs(origin) >= OriginFloor ? origin : 0f;
    }

    /// <summary>
    /// sum w over a block's class weights in double, each weight widened first, so that o sum w (o a large origin)
    /// carries no float rounding of the sum: o times a float sum's 1e-7 was 1e-5 of a smoothed loss at o = 1e5.
    /// Eight running sums, weight i in sum i mod 8, added up in one fixed order at the end, whatever the hardware's
    /// vector width: 256-bit where it is accelerated, 128-bit otherwise (Arm64, x64 without AVX), the same bits
    /// (with System.Numerics.Vector the order followed Vector&lt;T&gt;'s width, which differs between those machines).
    /// </summary>
    internal static double WeightSum(ReadOnlySpan<float> weights)
    {
        ref float w = ref MemoryMarshal.GetReference(weights);
        int i = 0;
        Vector128<double> low, high;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<double> a = Vector256<double>.Zero, b = a;
            for (; i <= weights.Length - 8; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref w, (nuint)i);
                a += Vector256.WidenLower(v);
                b += Vector256.WidenUpper(v);
            }

            // Sums (0 + 4, 1 + 5) and (2 + 6, 3 + 7), as the 128-bit form pairs them.
            var s = a + b;
            low = s.GetLower();
            high = s.GetUpper();
        }
        else
        {
            Vector128<double> a0 = Vector128<double>.Zero, a1 = a0, b0 = a0, b1 = a0;
            for (; i <= weights.Length - 8; i += 8)
            {
                var u = Vector128.LoadUnsafe(ref w, (nuint)i);
                var v = Vector128.LoadUnsafe(ref w, (nuint)(i + 4));
                a0 += Vector128.WidenLower(u);
                a1 += Vector128.WidenUpper(u);
                b0 += Vector128.WidenLower(v);
                b1 += Vector128.WidenUpper(v);
            }

            low = a0 + b0;
            high = a1 + b1;
        }

        var pairs = low + high;
        double sum = pairs.GetElement(0) + pairs.GetElement(1);
        for (; i < weights.Length; i++)
        {
            sum += Unsafe.Add(ref w, i);
        }

        return sum;
    }

    /// <summary>
    /// A lane's sum s moved from the shift <paramref name="m"/> to <paramref name="mNew"/>. s is kept less off, the term
    /// of the logit offZ that last raised the lane's shift (2^(z log2 e - m) with m = fl(z log2 e): 1 within the FMA's
    /// rounding; 0 before any finite logit): beside a term of 1 a float sum drops every term under 2^-25 (all of them
    /// where one logit leads the rest by 17), and the loss, the sum less 1, with them. Kept small, s keeps them. A
    /// raise costs one rounding at the scale of 1; the new off is bitwise the term the chunk adds for
    /// <paramref name="c"/>, so the two cancel exactly, and at the end the block max's off is taken as its exact term, 1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Rescale<TOps, TV>(TV s, ref TV off, ref TV offZ, TV m, TV mNew, TV c, TV log2e)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        // Where the shift rose it is c's (in shift units); elsewhere r is 1 and off stays.
        TV raised = TOps.LessThan(m, mNew);
        TV r = TOps.Exp2(ShiftExponent<TOps, TV>(m, mNew, log2e));
        TV offNew = TOps.Select(raised, TOps.Exp2(TermExponent<TOps, TV>(c, log2e, TOps.Subtract(TOps.Create(0f), mNew))), off);
        s = TOps.MultiplyAdd(s, r, TOps.Subtract(TOps.Multiply(off, r), offNew));
        offZ = TOps.Select(raised, c, offZ);
        off = offNew;
        return s;
    }

    /// <summary>
    /// The sum, relative to its max M, of a block that M leads 16 to 1 (under <see cref="DominatedSum"/>), from the
    /// single pass's lanes: <paramref name="lanes"/> (each lane's sum less its off, relative to M) and
    /// <paramref name="lead"/> (its off's term, 1 for M's lane). Only the lane that holds M may have dropped small terms
    /// beside its 1: in a chunk's tree of sums, and in s's rescale to the new off, each a rounding at M's scale (2^-25
    /// of 1: 3-5% of the loss where one logit leads 200 others by 20). Every other lane's terms are small beside M, and
    /// so are their roundings beside the loss. That lane (the one whose off is M's, <paramref name="offZ"/>: a lane max
    /// also counts the lanes of the shifted-back last vector that another lane counted) is copied out and summed again
    /// with M's terms apart: from the logits (<see cref="SumMaxTermsApart{TOps, TV}(ReadOnlySpan{float}, float)"/>), or
    /// where <paramref name="stored"/> is given, from the exponentials the storing pass stored over them (terms equal
    /// to <paramref name="atMax"/> are M's, the others scaled by <paramref name="toMax"/>). A lane is a 16th of the
    /// block at 512 bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static double LeadLaneApart<TOps, TV, TLanes>(ref byte x, int n, float max, TV offZ, TV lanes, TV lead, ReadOnlySpan<float> stored, TV atMax, TV toMax)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TLanes : struct, ILogitLanes<TV>
    {
        int k = TOps.Count, rest = n % k;
        Span<float> vector = stackalloc float[k];
        TOps.Store(offZ, ref MemoryMarshal.GetReference(vector), 0);
        int j = vector.IndexOf(max);
        if (j < 0 || n / k > 8192)
        {
            return TOps.SumWide(lanes, lead);
        }

        // The lane's elements as the single passes count them: j of each whole vector, then of the last, shifted-back
        // one where it adds that lane. The copy is padded to whole vectors with terms of 0.
        int count = (n / k) + (rest > 0 && j >= k - rest ? 1 : 0);
        bool fromStored = !stored.IsEmpty;
        Span<float> copy = stackalloc float[((count + k - 1) / k) * k];
        copy.Fill(fromStored ? 0f : float.NegativeInfinity);
        ref float terms = ref MemoryMarshal.GetReference(stored);
        ref float to = ref MemoryMarshal.GetReference(copy);
        for (int q = 0; q < count; q++)
        {
            nint at = (q < n / k ? (nint)q * k : n - k) + j;
            Unsafe.Add(ref to, q) = fromStored ? Unsafe.Add(ref terms, at) : TLanes.Element(ref x, at);
        }

        double lane = fromStored ? SumStoredTermsApart<TOps, TV>(copy, atMax, toMax) : SumMaxTermsApart<TOps, TV>(copy, max);

        // The other lanes as they are: times 1 or 0 (finite values: the sum is under 1 1/16).
        TV one = TOps.Create(1f), others = TOps.Subtract(one, TOps.Subtract(TOps.KeepFrom(one, j), TOps.KeepFrom(one, j + 1)));
        return TOps.SumWide(TOps.Multiply(lanes, others), TOps.Multiply(lead, others)) + lane;
    }

    /// <summary>
    /// <paramref name="value"/> with the lanes below <paramref name="firstLane"/> (those of a shifted-back last vector
    /// that were counted already) -inf: what the lanes it adds would raise a max or shift to.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TV NegativeInfinityBelow<TOps, TV>(TV value, int firstLane)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        TV one = TOps.Create(1f);
        return TOps.Select(TOps.LessThan(TOps.KeepFrom(one, firstLane), one), TOps.Create(float.NegativeInfinity), value);
    }

    /// <summary>
    /// What moves terms 2^(z log2 e - m) (the single-pass loops' shift m, in powers of two) to the block's max M:
    /// 2^(m - M log2 e), with M log2 e = hi + lo exactly, so that no rounding of it skews the sum.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV ToMax<TOps, TV>(TV m, float max)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        float hi = max * ExpConstants.Log2E;
        float lo = MathF.FusedMultiplyAdd(max, ExpConstants.Log2E, -hi);
        return TOps.Exp2(TOps.Subtract(TOps.Subtract(m, TOps.Create(hi)), TOps.Create(lo)));
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
}
