using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Xent.Kernels;

/// <content>
/// The single pass that also stores the block's exponentials, for a gradient whose write pass only scales them.
/// </content>
internal static partial class StatisticsKernel
{
    /// <summary>
    /// How far (in powers of two) a logit may rise above the block's first chunk before the single pass that stores
    /// exponentials hands the rest of the block to the two-pass loop (<see cref="FinishInTwoPasses"/>): its stored terms
    /// stay under 2^65, far from float's range, and the logits of one row seldom spread 44 nats above a chunk's max.
    /// </summary>
    private const float StoreHeadroom = 64f;

    /// <summary>
    /// Max, exp-sum and the exponentials stored, in one pass: each logit is read once, and its exponential is computed
    /// while the next lines arrive (the single-pass loop's prefetch), where the two-pass loop reads the block for its
    /// max with nothing to compute and then reads it again. Every exponential shares one shift m in powers of two, the
    /// first chunk's max times log2 e, in every lane and for the whole block, so that the write pass scales them all by
    /// one factor (<see cref="BlockStatistics.ShiftInPowersOfTwo"/>). A chunk that rises
    /// <see cref="StoreHeadroom"/> above m (or holds a NaN or +inf), and a first chunk beyond <see cref="Log2Limit"/>,
    /// hand the logits not yet stored to <see cref="FinishInTwoPasses"/>: in place, those already stored are gone.
    /// A block of -inf stores 2^-inf = 0 (m is at least -float.MaxValue). <paramref name="exps"/> may be
    /// <paramref name="z"/>'s memory.
    /// </summary>
    /// <param name="z">The block's float logits: in place, <paramref name="exps"/>' memory.</param>
    /// <param name="exps">Where the exponentials go [z.Length], or empty: the statistics alone, as storing them computes them, for a write pass that recomputes them (<see cref="GradientKernel.WriteShifted"/>).</param>
    /// <param name="prefetch">Whether z is followed by the next block to read (prefetches never fault).</param>
    /// <param name="weights">The block's class weights for sum w z, or empty for all 1.</param>
    /// <param name="weightedLogits">Whether to gather sum w z (label smoothing; exponentials stored).</param>
    /// <param name="inverseCap">1 / s under a soft cap s (z the capped logits; exponentials stored), else 0: each stored
    /// value is then the exponential times 1 - (z / s)^2 (see <see cref="Stored"/>), and the sum of the exponentials alone.</param>
    // Straight to optimised code (dynamic PGO was measured to make these loops ~2.5x slower), and never
    // inlined (docs/benchmarks.md, How the kernels got here).
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static unsafe BlockStatistics OnlineMaxExpSumStore<TOps, TV>(ReadOnlySpan<float> z, Span<float> exps, bool prefetch, ReadOnlySpan<float> weights, bool weightedLogits, float inverseCap)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        fixed (float* pinned = z)
        {
            ref byte x = ref Unsafe.As<float, byte>(ref MemoryMarshal.GetReference(z));
            if (exps.IsEmpty)
            {
                // The statistics alone, for the plain gradient's write pass that recomputes the exponentials.
                return OnlineMaxExpSumStorePinned<TOps, TV, SingleLanes<TOps, TV>, No, No, No, No>(ref x, z.Length, exps, prefetch, 0f, 0f);
            }

            // Label smoothing's sum w z: without class weights in the storing loop, as each chunk is loaded; with them
            // in a pass of its own ahead (it must read the logits before the stores over them, in place). Products with
            // the weights in the loop kept the eight loaded vectors live through the exps, and the spills took the
            // AVX2 smoothed gradient to 1.4-1.8x the time; the sum alone costs 1.03-1.05x, the pass ahead 1.10x.
            bool sumInLoop = weightedLogits && weights.IsEmpty;
            double weighted = 0;
            if (weightedLogits && !sumInLoop)
            {
                BlockMaxWeightedSum<TOps, TV>(z, weights, out weighted);
            }

            // Each option is a type, not a test, so that the plain storing loop compiles as before: the loaded vectors
            // die at their exps there, which frees registers.
            // The sum in the loop from an origin where the block has one (see WeightedOrigin), read before any store.
            float origin = sumInLoop ? WeightedOrigin<TOps, TV, SingleLanes<TOps, TV>>(ref x) : 0f;
            var result = (inverseCap != 0f, sumInLoop, origin != 0f) switch
            {
                (false, false, _) => OnlineMaxExpSumStorePinned<TOps, TV, SingleLanes<TOps, TV>, Yes, No, No, No>(ref x, z.Length, exps, prefetch, 0f, 0f),
                (false, true, false) => OnlineMaxExpSumStorePinned<TOps, TV, SingleLanes<TOps, TV>, Yes, No, Yes, No>(ref x, z.Length, exps, prefetch, 0f, 0f),
                (false, true, true) => OnlineMaxExpSumStorePinned<TOps, TV, SingleLanes<TOps, TV>, Yes, No, Yes, Yes>(ref x, z.Length, exps, prefetch, 0f, origin),
                (true, false, _) => OnlineMaxExpSumStorePinned<TOps, TV, SingleLanes<TOps, TV>, Yes, Yes, No, No>(ref x, z.Length, exps, prefetch, inverseCap, 0f),
                (true, true, false) => OnlineMaxExpSumStorePinned<TOps, TV, SingleLanes<TOps, TV>, Yes, Yes, Yes, No>(ref x, z.Length, exps, prefetch, inverseCap, 0f),
                (true, true, true) => OnlineMaxExpSumStorePinned<TOps, TV, SingleLanes<TOps, TV>, Yes, Yes, Yes, Yes>(ref x, z.Length, exps, prefetch, inverseCap, origin),
            };
            if (weightedLogits && !sumInLoop)
            {
                result.WeightedLogits = weighted;
            }

            return result;
        }
    }

    /// <summary>
    /// As the float overload, for a block of n 16-bit logits widened as they are loaded, with its exponentials stored
    /// in <paramref name="exps"/> (scratch, or a float gradient's block), bitwise the float path's for the widened block;
    /// without <paramref name="store"/> only the statistics, as storing computes them, and <paramref name="exps"/> is room
    /// for the widened rest of a block that hands over to the two-pass loop.
    /// </summary>
    // Straight to optimised code (dynamic PGO was measured to make these loops ~2.5x slower), and never
    // inlined (docs/benchmarks.md, How the kernels got here).
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static unsafe BlockStatistics OnlineMaxExpSumStore<TOps, TV, TLanes>(ref byte x, int n, Span<float> exps, bool store)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TLanes : struct, ILogitLanes<TV>
    {
        // Pinned for the lanes' loads, which may take the address (see ILogitLanes.Load).
        fixed (byte* pinned = &x)
        {
            return store
                ? OnlineMaxExpSumStorePinned<TOps, TV, TLanes, Yes, No, No, No>(ref x, n, exps, prefetch: true, 0f, 0f)
                : OnlineMaxExpSumStorePinned<TOps, TV, TLanes, No, No, No, No>(ref x, n, exps, prefetch: true, 0f, 0f);
        }
    }

    /// <summary>
    /// The plain statistics of a block of bfloat16 logits for a float gradient that takes the forward's exponentials,
    /// read in place and widened in registers: bitwise what <see cref="Compute(VectorWidth, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, bool, Span{float}, bool, float, bool)"/>
    /// computes for the widened block with <paramref name="exps"/> (or, empty, with <c>storedStatistics</c>, for a write
    /// pass that recomputes them), where that takes the single pass; false, with nothing computed, for a block it does
    /// not (shorter than a chunk of vectors, or no hardware FMA).
    /// </summary>
    /// <param name="width">Widest vector width allowed.</param>
    /// <param name="z">The block's logits.</param>
    /// <param name="exps">Where exp(z - shift) goes [z.Length], or empty for the statistics alone.</param>
    /// <param name="scratch">Room for the widened block, at least z.Length (used only by a block that hands over without <paramref name="exps"/>).</param>
    /// <param name="result">The block's statistics.</param>
    public static bool TryComputeStored(VectorWidth width, ReadOnlySpan<BFloat16> z, Span<float> exps, Span<float> scratch, out BlockStatistics result)
    {
        ref byte x = ref Unsafe.As<BFloat16, byte>(ref MemoryMarshal.GetReference(z));
        int n = z.Length;
        bool store = !exps.IsEmpty;
        var room = store ? exps.Slice(0, n) : scratch.Slice(0, n);
        switch (Widths.Fit(width, n))
        {
            case VectorWidth.V512: return TrySinglePassStore<Vector512Ops, Vector512<float>, BFloat16Lanes512>(ref x, n, room, store, out result);
            case VectorWidth.V256: return TrySinglePassStore<Vector256Ops, Vector256<float>, BFloat16Lanes256>(ref x, n, room, store, out result);
            case VectorWidth.V128: return TrySinglePassStore<Vector128Ops, Vector128<float>, BFloat16Lanes128>(ref x, n, room, store, out result);
            default:
                result = default;
                return false;
        }
    }

    /// <summary>
    /// The storing single pass over n 16-bit logits at the width <typeparamref name="TOps"/> (see
    /// <see cref="OnlineMaxExpSumStore{TOps, TV, TLanes}"/>) where the float path's <see cref="Compute(VectorWidth, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, bool, Span{float}, bool, float, bool)"/>
    /// takes it for the widened block (vectors, at least a chunk of them, hardware FMA); false, with nothing computed,
    /// where it does not. The one test of that for the 16-bit callers, so that they stay bitwise the float path's.
    /// </summary>
    private static bool TrySinglePassStore<TOps, TV, TLanes>(ref byte x, int n, Span<float> exps, bool store, out BlockStatistics result)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TLanes : struct, ILogitLanes<TV>
    {
        if (TOps.Count > 1 && n >= OnlineChunk * TOps.Count && Simd.FusedMultiplyAddIsHardware)
        {
            result = OnlineMaxExpSumStore<TOps, TV, TLanes>(ref x, n, exps, store);
            return true;
        }

        result = default;
        return false;
    }

    // Straight to optimised code (dynamic PGO was measured to make these loops ~2.5x slower), and never
    // inlined (docs/benchmarks.md, How the kernels got here).
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static BlockStatistics OnlineMaxExpSumStorePinned<TOps, TV, TLanes, TStore, TCapped, TWeighted, TOrigin>(ref byte x, int n, Span<float> exps, bool prefetch, float inverseCap, float origin)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TLanes : struct, ILogitLanes<TV>
        where TStore : struct, IConstant
        where TCapped : struct, IConstant
        where TWeighted : struct, IConstant
        where TOrigin : struct, IConstant
    {
        // With TOrigin (see WeightedOrigin) the sum of z is taken as sum (z - origin), in float over OriginFlush chunks,
        // then in double.
        TV wz = TOps.Create(0f), o = TOps.Create(origin);
        double logits = 0;
        int pending = 0;
        int k = TOps.Count, size = TLanes.ElementSize;
        ref float d = ref MemoryMarshal.GetReference(exps);
        TV log2e = TOps.Create(ExpConstants.Log2E), ic = TOps.Create(inverseCap);

        // Loaded before any store: in place, the shifted-back last vector's first lanes are overwritten by then.
        TV last = TLanes.Load(ref x, n - k);
        TV top = TLanes.Load(ref x, 0);
        for (int j = 1; j < OnlineChunk; j++)
        {
            top = TOps.Max(top, TLanes.Load(ref x, j * k));
        }

        float first = TOps.MaxAcross(top);
        if (float.IsNaN(first) || (MathF.Abs(first) >= Log2Limit && first != float.NegativeInfinity))
        {
            return HandOver<TOps, TV, TLanes>(ref x, n, exps, 0, float.NegativeInfinity, 0f, 0f, 0, TWeighted.Value, prefetch, inverseCap);
        }

        float m = MathF.Max(first * ExpConstants.Log2E, -float.MaxValue);
        float limit = m + StoreHeadroom;
        TV minusM = TOps.Create(-m), zero = TOps.Create(0f), one = TOps.Create(1f);

        // s holds each lane's sum less off, the term of the lane's max when last raised (0 before any finite logit), as
        // in the single pass (see Rescale): beside its max's term a lane's float sum would drop the terms 2^25 times
        // smaller. A chunk whose lane max doubles that term raises off to it, bitwise a term of the chunk, which cancels
        // s's -off_new. Terms under twice off are summed as they are: with two terms that large the loss is at least
        // log 1.5, and the small terms' rounding is nothing beside it. One compare per chunk, against ceiling, as before
        // (it holds the limit of the hand-over too).
        TV offZ = top, off = TOps.Exp2(TOps.MultiplyAdd(offZ, log2e, minusM)), s = TOps.Subtract(zero, off);
        TV ceiling = OffCeiling<TOps, TV>(offZ, log2e, limit);
        nint i = 0;
        for (; i <= n - (OnlineChunk * k); i += OnlineChunk * k)
        {
            if (prefetch)
            {
                PrefetchChunk(ref Unsafe.Add(ref x, (i * size) + PrefetchAheadBytes), OnlineChunk * k * size);
            }

            TV v0 = TLanes.Load(ref x, i), v1 = TLanes.Load(ref x, i + k), v2 = TLanes.Load(ref x, i + (2 * k)), v3 = TLanes.Load(ref x, i + (3 * k));
            TV v4 = TLanes.Load(ref x, i + (4 * k)), v5 = TLanes.Load(ref x, i + (5 * k)), v6 = TLanes.Load(ref x, i + (6 * k)), v7 = TLanes.Load(ref x, i + (7 * k));

            // Label smoothing's sum of z, taken as the chunk arrives (see OnlineMaxExpSumStore), and added once the
            // chunk is known not to be handed over.
            TV chunkZ = !TWeighted.Value ? default
                : TOrigin.Value ? TOps.Add(
                    TOps.Add(TOps.Add(TOps.Subtract(v0, o), TOps.Subtract(v1, o)), TOps.Add(TOps.Subtract(v2, o), TOps.Subtract(v3, o))),
                    TOps.Add(TOps.Add(TOps.Subtract(v4, o), TOps.Subtract(v5, o)), TOps.Add(TOps.Subtract(v6, o), TOps.Subtract(v7, o))))
                : TOps.Add(TOps.Add(TOps.Add(v0, v1), TOps.Add(v2, v3)), TOps.Add(TOps.Add(v4, v5), TOps.Add(v6, v7)));
            TV c = TOps.Max(TOps.Max(TOps.Max(v0, v1), TOps.Max(v2, v3)), TOps.Max(TOps.Max(v4, v5), TOps.Max(v6, v7)));
            TV cl = TOps.Multiply(c, log2e);
            if (!TOps.AllLessThan(cl, ceiling))
            {
                if (!TOps.AllLessThan(cl, TOps.Create(limit)))
                {
                    return HandOver<TOps, TV, TLanes>(ref x, n, exps, (int)i, TOps.MaxAcross(top), m, LaneSum<TOps, TV>(s, off), DoneWeighted<TOps, TV, TOrigin>(wz, logits, origin, i), TWeighted.Value, prefetch, inverseCap);
                }

                offZ = TOps.Max(top, c);
                TV offNew = TOps.Exp2(TOps.MultiplyAdd(offZ, log2e, minusM));
                s = TOps.Add(s, TOps.Subtract(off, offNew));
                off = offNew;
                ceiling = OffCeiling<TOps, TV>(offZ, log2e, limit);
            }

            top = TOps.Max(top, c);
            if (TWeighted.Value)
            {
                wz = TOps.Add(wz, chunkZ);
                if (TOrigin.Value && ++pending == OriginFlush)
                {
                    logits += TOps.SumWide(wz);
                    wz = zero;
                    pending = 0;
                }
            }

            // w z is summed as each vector's exp is taken, so that (without a cap) each vector dies there, as in the
            // plain loop: summed ahead, all eight stayed live through the exps (AVX2 smoothed gradient 1.39x the time).
            TV e0 = TOps.Exp2(TOps.MultiplyAdd(v0, log2e, minusM));

            TV e1 = TOps.Exp2(TOps.MultiplyAdd(v1, log2e, minusM));

            TV e2 = TOps.Exp2(TOps.MultiplyAdd(v2, log2e, minusM));

            TV e3 = TOps.Exp2(TOps.MultiplyAdd(v3, log2e, minusM));

            TV e4 = TOps.Exp2(TOps.MultiplyAdd(v4, log2e, minusM));

            TV e5 = TOps.Exp2(TOps.MultiplyAdd(v5, log2e, minusM));

            TV e6 = TOps.Exp2(TOps.MultiplyAdd(v6, log2e, minusM));

            TV e7 = TOps.Exp2(TOps.MultiplyAdd(v7, log2e, minusM));

            if (TStore.Value)
            {
                TOps.Store(Stored<TOps, TV, TCapped>(e0, v0, ic), ref d, i);
                TOps.Store(Stored<TOps, TV, TCapped>(e1, v1, ic), ref d, i + k);
                TOps.Store(Stored<TOps, TV, TCapped>(e2, v2, ic), ref d, i + (2 * k));
                TOps.Store(Stored<TOps, TV, TCapped>(e3, v3, ic), ref d, i + (3 * k));
                TOps.Store(Stored<TOps, TV, TCapped>(e4, v4, ic), ref d, i + (4 * k));
                TOps.Store(Stored<TOps, TV, TCapped>(e5, v5, ic), ref d, i + (5 * k));
                TOps.Store(Stored<TOps, TV, TCapped>(e6, v6, ic), ref d, i + (6 * k));
                TOps.Store(Stored<TOps, TV, TCapped>(e7, v7, ic), ref d, i + (7 * k));
            }

            s = TOps.Add(s, TOps.Add(TOps.Add(TOps.Add(e0, e1), TOps.Add(e2, e3)), TOps.Add(TOps.Add(e4, e5), TOps.Add(e6, e7))));
        }

        // Whole vectors left over, then the shifted-back last one (loaded at the start), its lanes counted already
        // masked out of the sum and stored again with the same values.
        for (; i < n; i += k)
        {
            nint at = i <= n - k ? i : n - k;
            TV v = at == i ? TLanes.Load(ref x, i) : last;
            if (!TOps.AllLessThan(TOps.Multiply(v, log2e), TOps.Create(limit)))
            {
                return HandOver<TOps, TV, TLanes>(ref x, n, exps, (int)i, TOps.MaxAcross(top), m, LaneSum<TOps, TV>(s, off), DoneWeighted<TOps, TV, TOrigin>(wz, logits, origin, i), TWeighted.Value, prefetch, inverseCap);
            }

            top = TOps.Max(top, v);
            TV e = TOps.Exp2(TOps.MultiplyAdd(v, log2e, minusM));
            if (TWeighted.Value)
            {
                TV vo = TOrigin.Value ? TOps.Subtract(v, o) : v;
                wz = TOps.Add(wz, at == i ? vo : TOps.KeepFrom(vo, (int)(i - at)));
            }
            if (TStore.Value)
            {
                TOps.Store(Stored<TOps, TV, TCapped>(e, v, ic), ref d, at);
            }

            // Off follows the lanes this vector adds: a counted lane's term is not in it to cancel off.
            TV added = at == i ? v : NegativeInfinityBelow<TOps, TV>(v, (int)(i - at));
            TV zNew = TOps.Max(offZ, added);
            TV offNew = TOps.Exp2(TOps.MultiplyAdd(zNew, log2e, minusM));
            s = TOps.Add(TOps.Add(s, TOps.Subtract(off, offNew)), at == i ? e : TOps.KeepFrom(e, (int)(i - at)));
            off = offNew;
            offZ = zNew;
        }

        var result = default(BlockStatistics);
        float max = TOps.MaxAcross(top);
        result.WeightedLogits = TWeighted.Value ? DoneWeighted<TOps, TV, TOrigin>(wz, logits, origin, n) : 0f;
        if (max == float.NegativeInfinity)
        {
            // Only -inf: every stored exponential is 0, and so is the sum.
            result.Max = max;
            return result;
        }

        result.Max = max;
        TV toMax = ToMax<TOps, TV>(TOps.Create(m), max);

        // The max's own term is exp(M - M) = 1, exactly: off toMax would carry the rounding of two exps (off is up to
        // 2^64, and its exp's few ulp would be all of a small loss).
        TV lead = TOps.Select(TOps.LessThan(offZ, TOps.Create(max)), TOps.Multiply(off, toMax), one);
        TV lanes = TOps.Multiply(s, toMax);
        result.Sum = TOps.SumWide(lanes, lead);
        if (result.Sum < DominatedSum)
        {
            // The lane of a leading max summed again (see LeadLaneApart): from the stored exponentials where they are
            // plain (the same bits in place or not), else from the logits where the stored products (times a soft
            // cap's derivative) were not written over them; a capped block in place keeps the loop's sum.
            if (TStore.Value && !TCapped.Value)
            {
                result.Sum = LeadLaneApart<TOps, TV, TLanes>(ref x, n, max, offZ, lanes, lead, exps.Slice(0, n), TOps.Exp2(TOps.MultiplyAdd(TOps.Create(max), log2e, minusM)), toMax);
            }
            else if (!TStore.Value || !exps.Overlaps(MemoryMarshal.CreateReadOnlySpan(ref Unsafe.As<byte, float>(ref x), n)))
            {
                result.Sum = LeadLaneApart<TOps, TV, TLanes>(ref x, n, max, offZ, lanes, lead, default, one, one);
            }
        }

        result.Shift = m;
        result.ShiftInPowersOfTwo = true;
        return result;
    }

    /// <summary>
    /// Where the storing pass raises a lane's off (see <see cref="OnlineMaxExpSumStorePinned"/>): at twice its term, one
    /// power of two above the lane's max <paramref name="top"/> (-float.MaxValue for a lane of only -inf, so that any
    /// finite logit raises it), and never above <paramref name="limit"/>, where the pass hands over.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV OffCeiling<TOps, TV>(TV top, TV log2e, float limit)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        TV ceiling = TOps.Max(TOps.MultiplyAdd(top, log2e, TOps.Create(1f)), TOps.Create(-float.MaxValue));
        TV cap = TOps.Create(limit);
        return TOps.Select(TOps.LessThan(ceiling, cap), ceiling, cap);
    }

    /// <summary>
    /// The storing pass's sum of z over its first <paramref name="done"/> logits: the float lanes <paramref name="wz"/>,
    /// or with <typeparamref name="TOrigin"/> those (of z - <paramref name="origin"/>) plus the flushed
    /// <paramref name="logits"/> plus origin times done, in double.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double DoneWeighted<TOps, TV, TOrigin>(TV wz, double logits, float origin, nint done)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TOrigin : struct, IConstant =>
        TOrigin.Value ? logits + TOps.SumWide(wz) + ((double)origin * done) : TOps.Sum(wz);

    /// <summary>The lanes' sums s + off (see <see cref="OnlineMaxExpSumStorePinned"/>) summed, for the two-pass loop that takes over.</summary>
    private static float LaneSum<TOps, TV>(TV s, TV off)
        where TOps : struct, IVectorOps<TV>
        where TV : struct =>
        (float)(TOps.SumWide(s, off));

    /// <summary>The logits from <paramref name="done"/> on to <see cref="FinishInTwoPasses"/>: float ones where they are, 16-bit ones widened over their exponentials' place first.</summary>
    private static unsafe BlockStatistics HandOver<TOps, TV, TLanes>(ref byte x, int n, Span<float> exps, int done, float doneMax, float m, float doneSum, double doneWeighted, bool weighted, bool prefetch, float inverseCap)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TLanes : struct, ILogitLanes<TV>
    {
        if (TLanes.ElementSize == sizeof(float))
        {
            return FinishInTwoPasses<TOps, TV>(MemoryMarshal.CreateReadOnlySpan(ref Unsafe.As<byte, float>(ref x), n), exps, done, doneMax, m, doneSum, doneWeighted, weighted, prefetch, inverseCap);
        }

        Widening.Widen<TOps, TV, TLanes>(ref Unsafe.Add(ref x, done * TLanes.ElementSize), exps.Slice(done, n - done));
        return FinishInTwoPasses<TOps, TV>(exps.Slice(0, n), exps, done, doneMax, m, doneSum, doneWeighted, weighted, prefetch: false, inverseCap);
    }

    /// <summary>
    /// The single pass's way out: the first <paramref name="done"/> exponentials are stored, 2^(z log2 e - m), with max
    /// <paramref name="doneMax"/> and sum <paramref name="doneSum"/>, and the logits from there on are intact. Takes the
    /// rest's max, then the block's exponentials relative to the block's max M as the two-pass loop stores them: the
    /// stored ones times 2^(m - M log2 e), the rest computed (<see cref="ExpSum"/>; under a soft cap, at
    /// <paramref name="inverseCap"/>, stored times the cap's derivative, as the single pass stored the first part).
    /// With <paramref name="weighted"/> (label smoothing without class weights) the rest's sum of z is added to the
    /// first part's, <paramref name="doneWeighted"/>.
    /// </summary>
    private static BlockStatistics FinishInTwoPasses<TOps, TV>(ReadOnlySpan<float> z, Span<float> exps, int done, float doneMax, float m, float doneSum, double doneWeighted, bool weighted, bool prefetch, float inverseCap)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        var rest = z.Slice(done);
        var restExps = exps.IsEmpty ? default : exps.Slice(done);
        bool vectors = rest.Length >= TOps.Count;
        double restWeighted = 0;
        float restMax = (vectors, weighted) switch
        {
            (true, true) => BlockMaxWeightedSum<TOps, TV>(rest, default, out restWeighted),
            (false, true) => BlockMaxWeightedSum<ScalarOps, float>(rest, default, out restWeighted),
            (true, false) => BlockMax<TOps, TV, SingleLanes<TOps, TV>>(ref Unsafe.As<float, byte>(ref MemoryMarshal.GetReference(rest)), rest.Length, default),
            _ => BlockMax<ScalarOps, float, SingleLanes<ScalarOps, float>>(ref Unsafe.As<float, byte>(ref MemoryMarshal.GetReference(rest)), rest.Length, default),
        };
        var result = default(BlockStatistics);
        result.Max = float.IsNaN(restMax) ? restMax : MathF.Max(doneMax, restMax);
        result.WeightedLogits = weighted ? doneWeighted + restWeighted : 0;
        float shift = result.Max == float.NegativeInfinity ? 0f : result.Max;
        result.Sum = (vectors, inverseCap != 0f && !restExps.IsEmpty) switch
        {
            (true, true) => ExpSum<TOps, TV, Yes>(rest, shift, restExps, prefetch, inverseCap),
            (false, true) => ExpSum<ScalarOps, float, Yes>(rest, shift, restExps, prefetch, inverseCap),
            (true, false) => ExpSum<TOps, TV, No>(rest, shift, restExps, prefetch, 0f),
            _ => ExpSum<ScalarOps, float, No>(rest, shift, restExps, prefetch, 0f),
        };
        bool capped = inverseCap != 0f && !restExps.IsEmpty;
        result.Sum = vectors
            ? Dominated<TOps, TV>(result.Sum, rest, result.Max, restExps, capped)
            : Dominated<ScalarOps, float>(result.Sum, rest, result.Max, restExps, capped);
        if (done > 0)
        {
            // A stored prefix under a finite max: its terms against M are at most 2^-64 of M's own, so they may round
            // to 0 here, as they would in exp(z - M).
            float factor = ToMax<ScalarOps, float>(m, shift);
            if (!exps.IsEmpty)
            {
                var stored = exps.Slice(0, done);
                System.Numerics.Tensors.TensorPrimitives.Multiply(stored, factor, stored);
            }

            result.Sum += doneSum * factor;
        }

        return result;
    }
}
