using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Xent.Kernels;

/// <content>
/// The two-pass statistics: a max pass, then an exp-sum pass over the cached block (exponentials stored, or weighted sums).
/// </content>
internal static partial class StatisticsKernel
{
    /// <summary>
    /// The statistics of a block of bfloat16 logits with its exponentials stored, exactly as <see cref="Compute(VectorWidth, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, bool, Span{float}, bool, float, bool)"/>
    /// computes them for the widened block with <c>exps</c> (the float path of a float gradient): the max pass widens
    /// the block into <paramref name="exps"/> as it reads it, and the exp pass runs over that in place.
    /// </summary>
    /// <param name="width">Widest vector width allowed.</param>
    /// <param name="z">The block's logits, at least one.</param>
    /// <param name="exps">Where exp(z - shift) goes [z.Length].</param>
    public static BlockStatistics ComputeWithExponentials(VectorWidth width, ReadOnlySpan<BFloat16> z, Span<float> exps)
    {
        ref byte x = ref Unsafe.As<BFloat16, byte>(ref MemoryMarshal.GetReference(z));
        return Widths.Fit(width, z.Length) switch
        {
            VectorWidth.V512 => WithExponentials<Vector512Ops, Vector512<float>, BFloat16Lanes512>(ref x, z.Length, exps),
            VectorWidth.V256 => WithExponentials<Vector256Ops, Vector256<float>, BFloat16Lanes256>(ref x, z.Length, exps),
            VectorWidth.V128 => WithExponentials<Vector128Ops, Vector128<float>, BFloat16Lanes128>(ref x, z.Length, exps),
            _ => WithExponentials<ScalarOps, float, BFloat16Lanes1>(ref x, z.Length, exps),
        };
    }

    private static BlockStatistics WithExponentials<TOps, TV, TLanes>(ref byte z, int n, Span<float> exps)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TLanes : struct, IWritableLanes<TV>
    {
        var e = exps.Slice(0, n);
        if (TrySinglePassStore<TOps, TV, TLanes>(ref z, n, e, store: true, out var stored))
        {
            // As Compute stores a float block's: one pass, widened as loaded, bitwise the same exponentials and statistics.
            return stored;
        }

        var result = default(BlockStatistics);
        result.Max = BlockMax<TOps, TV, TLanes>(ref z, n, e);
        float shift = result.Max == float.NegativeInfinity ? 0f : result.Max;
        result.Sum = Dominated<TOps, TV>(ExpSum<TOps, TV, No>(e, shift, e, false, 0f), e, result.Max, e, capped: false);
        return result;
    }

    /// <summary>
    /// The block's max; with <paramref name="widened"/> non-empty, every vector it loads is also stored there as
    /// floats (the same loads in the same order whatever the lanes, so the max is the same bits).
    /// </summary>
    // Straight to optimised code (dynamic PGO was measured to make these loops ~2.5x slower), and never
    // inlined (docs/benchmarks.md, How the kernels got here).
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
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

    // Straight to optimised code (dynamic PGO was measured to make these loops ~2.5x slower), and never
    // inlined (docs/benchmarks.md, How the kernels got here).
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static float BlockMaxPinned<TOps, TV, TLanes>(ref byte x, int n, Span<float> widened)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TLanes : struct, ILogitLanes<TV> => BlockMaxLoop<TOps, TV, TLanes>(ref x, n, widened);

    // BlockMaxPinned's loop, inlined there and into MaxExpSum (x pinned by the caller).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float BlockMaxLoop<TOps, TV, TLanes>(ref byte x, int n, Span<float> widened)
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

    /// <summary>
    /// The block's max and sum w z (label smoothing; w = 1 when <paramref name="weights"/> is empty) in one pass, for
    /// the exp pass that stores its exponentials over z (in place) and so cannot sum w z itself: where the single pass
    /// that stores does not run (no FMA, short blocks) or hands over.
    /// </summary>
    /// <remarks>From an origin where the block has one (see <see cref="WeightedOrigin"/>), as the single passes sum it.</remarks>
    private static float BlockMaxWeightedSum<TOps, TV>(ReadOnlySpan<float> z, ReadOnlySpan<float> weights, out double weightedLogits)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        float origin = WeightedOrigin<TOps, TV, SingleLanes<TOps, TV>>(ref Unsafe.As<float, byte>(ref MemoryMarshal.GetReference(z)));
        return origin != 0f
            ? BlockMaxWeightedSum<TOps, TV, Yes>(z, weights, origin, out weightedLogits)
            : BlockMaxWeightedSum<TOps, TV, No>(z, weights, 0f, out weightedLogits);
    }

    // Straight to optimised code (dynamic PGO was measured to make these loops ~2.5x slower), and never
    // inlined (docs/benchmarks.md, How the kernels got here). With TOrigin w z is summed as w (z - origin), in float
    // over OriginFlush pairs of vectors, then in double.
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static float BlockMaxWeightedSum<TOps, TV, TOrigin>(ReadOnlySpan<float> z, ReadOnlySpan<float> weights, float origin, out double weightedLogits)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TOrigin : struct, IConstant
    {
        TV o = TOps.Create(origin);
        double logits = 0;
        int pending = 0;
        int n = z.Length, k = TOps.Count;
        bool hasWeights = !weights.IsEmpty;
        ref float x = ref MemoryMarshal.GetReference(z);
        ref float w = ref MemoryMarshal.GetReference(weights);
        TV m0 = TOps.Load(ref x, n - k), m1 = m0, s0 = TOps.Create(0f), s1 = s0;
        nint i = 0;
        for (; i <= n - (2 * k); i += 2 * k)
        {
            TV v0 = TOps.Load(ref x, i), v1 = TOps.Load(ref x, i + k);
            m0 = TOps.Max(m0, v0);
            m1 = TOps.Max(m1, v1);
            if (TOrigin.Value)
            {
                v0 = TOps.Subtract(v0, o);
                v1 = TOps.Subtract(v1, o);
            }

            s0 = TOps.Add(s0, hasWeights ? TOps.Multiply(TOps.Load(ref w, i), v0) : v0);
            s1 = TOps.Add(s1, hasWeights ? TOps.Multiply(TOps.Load(ref w, i + k), v1) : v1);
            if (TOrigin.Value && ++pending == OriginFlush)
            {
                logits += TOps.SumWide(s0, s1);
                s0 = TOps.Create(0f);
                s1 = s0;
                pending = 0;
            }
        }

        if (i <= n - k)
        {
            TV v0 = TOps.Load(ref x, i);
            m0 = TOps.Max(m0, v0);
            v0 = TOrigin.Value ? TOps.Subtract(v0, o) : v0;
            s0 = TOps.Add(s0, hasWeights ? TOps.Multiply(TOps.Load(ref w, i), v0) : v0);
            i += k;
        }

        int rest = n - (int)i;
        if (rest > 0)
        {
            // The shifted-back last vector's lanes that the loops did not count (the products masked, not a factor:
            // 0 * -inf would be NaN).
            TV v = TOps.Load(ref x, n - k);
            v = TOrigin.Value ? TOps.Subtract(v, o) : v;
            s1 = TOps.Add(s1, TOps.KeepFrom(hasWeights ? TOps.Multiply(TOps.Load(ref w, n - k), v) : v, k - rest));
        }

        weightedLogits = TOrigin.Value
            ? logits + TOps.SumWide(s0, s1) + (origin * (hasWeights ? WeightSum(weights.Slice(0, n)) : n))
            : TOps.Sum(TOps.Add(s0, s1));
        return TOps.MaxAcross(TOps.Max(m0, m1));
    }

    /// <summary>Pairs of vectors the exp pass sums in float before it carries the sums on in double.</summary>
    private const int ExpSumFlush = 32;

    // Straight to optimised code (dynamic PGO was measured to make these loops ~2.5x slower), and never
    // inlined (docs/benchmarks.md, How the kernels got here). With TCapped (a soft cap,
    // exponentials stored) each stored value is the exponential times 1 - (z / s)^2.
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static double ExpSum<TOps, TV, TCapped>(ReadOnlySpan<float> z, float shift, Span<float> exps, bool prefetch, float inverseCap)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TCapped : struct, IConstant => ExpSumLoop<TOps, TV, TCapped>(z, shift, exps, prefetch, inverseCap);

    /// <summary>
    /// A float block's max and then its sum of exp(z - shift) (exponentials stored where <paramref name="exps"/> is
    /// not empty), uncapped: <see cref="BlockMax"/> and <see cref="ExpSum"/>'s loops, the same bits, in one call.
    /// </summary>
    // Short rows (under OnlineChunk vectors) take this pass for every row, and a row of 32 classes made three calls of
    // it (BlockMax, BlockMaxPinned, ExpSum).
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static unsafe double MaxExpSum<TOps, TV>(ReadOnlySpan<float> z, Span<float> exps, bool prefetch, out float max)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        ref byte x = ref Unsafe.As<float, byte>(ref MemoryMarshal.GetReference(z));
        fixed (byte* pinned = &x)
        {
            max = BlockMaxLoop<TOps, TV, SingleLanes<TOps, TV>>(ref x, z.Length, default);
        }

        // As Compute shifts: a block of only -inf (and NaN) sums relative to 0.
        float shift = max == float.NegativeInfinity ? 0f : max;
        return ExpSumLoop<TOps, TV, No>(z, shift, exps, prefetch, 0f);
    }

    // ExpSum's loop, inlined there and into MaxExpSum.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double ExpSumLoop<TOps, TV, TCapped>(ReadOnlySpan<float> z, float shift, Span<float> exps, bool prefetch, float inverseCap)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TCapped : struct, IConstant
    {
        int n = z.Length, k = TOps.Count;
        bool store = !exps.IsEmpty;
        ref float x = ref MemoryMarshal.GetReference(z);
        ref float d = ref MemoryMarshal.GetReference(exps);
        TV m = TOps.Create(shift), ic = TOps.Create(inverseCap);

        // The shifted-back last vector first: with exps over z (in place) its lanes are about to be overwritten. Always,
        // even where n is whole vectors and the loops count those lanes again: this exp, ahead of the loop, is what keeps
        // the exp's constants in registers for it. Taken only where n is not whole vectors, the JIT reloaded the 8
        // constants in every iteration (AVX2 `LossAndGradient` 0.297-0.301 -> 0.326-0.331 ns per logit, one Zen 4 core).
        nint last = n - k;
        TV zTail = TOps.Load(ref x, last);
        TV tail = TOps.Exp(TOps.Subtract(zTail, m));
        TV storedTail = Stored<TOps, TV, TCapped>(tail, zTail, ic);
        TV s0 = TOps.Create(0f), s1 = s0;
        double total = 0;
        int pending = 0;
        nint i = 0;
        for (; i <= n - (2 * k); i += 2 * k)
        {
            if (prefetch)
            {
                // The exp pass has the block in cache and leaves memory idle: fetch the next block meanwhile, so
                // that memory and arithmetic overlap instead of taking turns (measured on one core: 0.30 -> 0.24 ns per element).
                Prefetch(ref Unsafe.Add(ref x, n + i));
            }

            TV z0 = TOps.Load(ref x, i), z1 = TOps.Load(ref x, i + k);
            TV e0 = TOps.Exp(TOps.Subtract(z0, m));
            TV e1 = TOps.Exp(TOps.Subtract(z1, m));
            if (store)
            {
                TOps.Store(Stored<TOps, TV, TCapped>(e0, z0, ic), ref d, i);
                TOps.Store(Stored<TOps, TV, TCapped>(e1, z1, ic), ref d, i + k);
            }

            // The sums go on in double: a float sum of thousands of terms is off by 1e-6 of itself, and beside the
            // max's term, exp(0) = 1, it drops every term under 2^-25 (where one logit leads by 17, all of them, and
            // the loss with them). At the scalar width term by term: flushed every ExpSumFlush pairs, the float sum
            // still rounded up to 63 terms at the scale of a tied max's 1 (5 ulp of p = 1/2 at two ties of 17), and
            // cost no less (libm's expf is a call, which spills the float sums around it). On CPUs without FMA every
            // ExpSumFlush pairs; elsewhere the single pass that stores takes the blocks this loop would (with label
            // smoothing and a soft cap too), and keeps them its own way; this loop has the short blocks and the rest
            // of a block handed over.
            if (TOps.Count == 1)
            {
                total += TOps.SumWide(e0, e1);
            }
            else
            {
                s0 = TOps.Add(s0, e0);
                s1 = TOps.Add(s1, e1);
            }

            if (TOps.Count > 1 && !(Fma.IsSupported || AdvSimd.IsSupported) && ++pending == ExpSumFlush)
            {
                total += TOps.SumWide(s0, s1);
                s0 = TOps.Create(0f);
                s1 = s0;
                pending = 0;
            }
        }

        if (i <= n - k)
        {
            TV z0 = TOps.Load(ref x, i);
            TV e0 = TOps.Exp(TOps.Subtract(z0, m));
            if (store)
            {
                TOps.Store(Stored<TOps, TV, TCapped>(e0, z0, ic), ref d, i);
            }

            if (TOps.Count == 1)
            {
                total += TOps.SumWide(e0);
            }
            else
            {
                s0 = TOps.Add(s0, e0);
            }

            i += k;
        }

        int rest = n - (int)i;
        if (rest > 0)
        {
            s1 = TOps.Add(s1, TOps.KeepFrom(tail, k - rest));
        }

        if (store)
        {
            TOps.Store(storedTail, ref d, last);
        }

        return total + TOps.SumWide(s0, s1);
    }

    /// <summary>What the exp pass stores for e = exp(z - shift): e, or under a soft cap e (1 - (z / s)^2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Stored<TOps, TV, TCapped>(TV e, TV z, TV inverseCap)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TCapped : struct, IConstant
    {
        if (!TCapped.Value)
        {
            return e;
        }

        return TOps.Multiply(e, VectorMath.SoftCapDerivative<TOps, TV>(z, inverseCap));
    }

    /// <summary>Vectors summed in float before the probability targets' sums are carried on in double.</summary>
    private const int TargetSumFlush = 64;

    /// <summary>
    /// The exp pass of a block that also sums w z (label smoothing) and, for probability targets, w t and w t z.
    /// The weighted sums are what the row's loss w t lse - w t z (and e / C (W lse - w z)) is taken from, so they are
    /// held to double where float would not do: w t z as w t (z - M) with M the block's max (plus M w t in double), and
    /// w z likewise, so that logits with a common offset do not cancel in float (at an offset of 1e4 the float sum had
    /// lost 8e-3 of the loss); and each in float over at most <see cref="TargetSumFlush"/> vectors, then in double,
    /// since a long sum of near-equal terms (t = 1 / V) rounds the same way at every step (V = 32000: 9e-6 of the
    /// loss). 256 x 50257 soft targets on one thread (Zen 4, 512 bits, processes alternating with the code before)
    /// took 1.00-1.05x the time with these sums flushed every 64 vectors, 1.05-1.15x every 16. The single pass's w z (class-index targets, the hot path) stays in float: there only offsets of about
    /// 1e4 and more cost more than 1e-6 of the loss. Under label
    /// smoothing a class with t = 0 and z = -inf adds 0, not 0 x -inf: its smoothed target e / C is not 0, and the
    /// smoothing term makes the loss +inf, as the spec's -sum t' log p does.
    /// </summary>
    // Straight to optimised code (dynamic PGO was measured to make these loops ~2.5x slower), and never
    // inlined (docs/benchmarks.md, How the kernels got here).
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void ExpSumWeighted<TOps, TV>(ReadOnlySpan<float> z, float shift, ReadOnlySpan<float> weights, ReadOnlySpan<float> probabilities, bool weightedLogits, ref BlockStatistics result)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        int n = z.Length, k = TOps.Count;
        bool hasWeights = !weights.IsEmpty, hasTargets = !probabilities.IsEmpty;
        ref float x = ref MemoryMarshal.GetReference(z);
        ref float w = ref MemoryMarshal.GetReference(weights);
        ref float t = ref MemoryMarshal.GetReference(probabilities);
        float offset = float.IsFinite(shift) ? shift : 0f;
        TV m = TOps.Create(shift), origin = TOps.Create(offset), one = TOps.Create(1f), zero = TOps.Create(0f);
        TV sum = zero, wz = zero, wtz = zero, wt = zero;
        double exps = 0, targetLogits = 0, targets = 0, logits = 0;
        int pending = 0;
        nint i = 0;
        for (; NextVector(ref i, n, k, out int skip); i += k)
        {
            TV zi = TOps.Load(ref x, i);
            TV wi = hasWeights ? TOps.Load(ref w, i) : one;
            TV ei = TOps.Exp(TOps.Subtract(zi, m));
            TV zs = TOps.Subtract(zi, origin);
            TV wzi = weightedLogits ? TOps.Multiply(wi, zs) : zero;
            TV wti = hasTargets ? TOps.Multiply(wi, TOps.Load(ref t, i)) : zero;
            TV wtzi = hasTargets ? TOps.Multiply(wti, zs) : zero;
            if (hasTargets && weightedLogits)
            {
                wtzi = TOps.Select(TOps.LessThan(zero, TOps.Abs(wti)), wtzi, zero);
            }

            if (skip > 0)
            {
                // Mask the products, not a factor: 0 * -inf would be NaN.
                ei = TOps.KeepFrom(ei, skip);
                wzi = TOps.KeepFrom(wzi, skip);
                wti = TOps.KeepFrom(wti, skip);
                wtzi = TOps.KeepFrom(wtzi, skip);
            }

            if (TOps.Count == 1)
            {
                exps += TOps.SumWide(ei);
            }
            else
            {
                sum = TOps.Add(sum, ei);
            }

            wz = TOps.Add(wz, wzi);

            wt = TOps.Add(wt, wti);
            wtz = TOps.Add(wtz, wtzi);
            if (++pending == TargetSumFlush)
            {
                if (TOps.Count > 1)
                {
                    exps += TOps.SumWide(sum);
                    sum = zero;
                }

                FlushAll<TOps, TV>(weightedLogits, hasTargets, ref wz, ref wt, ref wtz, ref logits, ref targets, ref targetLogits);
                pending = 0;
            }
        }

        FlushAll<TOps, TV>(weightedLogits, hasTargets, ref wz, ref wt, ref wtz, ref logits, ref targets, ref targetLogits);
        result.Sum = exps + TOps.SumWide(sum);
        // The weights' sum widened, not in float lanes: the offset times that sum's float rounding (1e-7 of it) was
        // 1.6e-4 of the loss at an offset of 1e5.
        result.WeightedLogits = weightedLogits ? logits + (offset * (hasWeights ? WeightSum(weights.Slice(0, n)) : n)) : 0;
        result.WeightedTargets = targets;
        result.WeightedTargetLogits = targetLogits + (offset * targets);
    }

    /// <summary>Vectors the sums with the max's terms apart add in float before they carry the sum on in double.</summary>
    private const int ApartFlush = 64;

    /// <summary>A block's sum of exp(z - max) under which one term, the max's 1, leads the rest by 16 to 1 or more.</summary>
    private const double DominatedSum = 1.0625;

    /// <summary>
    /// sum exp(z - <paramref name="max"/>) over a block whose max it is, each max's term counted apart
    /// (<see cref="VectorMath.MaxTermApart"/>), so that the small terms are not summed beside a 1.
    /// </summary>
    // Straight to optimised code (dynamic PGO was measured to make these loops ~2.5x slower), and never
    // inlined (docs/benchmarks.md, How the kernels got here).
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static double SumMaxTermsApart<TOps, TV>(ReadOnlySpan<float> z, float max)
        where TOps : struct, IVectorOps<TV>
        where TV : struct =>
        SumMaxTermsApart<TOps, TV, SingleLanes<TOps, TV>>(ref Unsafe.As<float, byte>(ref MemoryMarshal.GetReference(z)), z.Length, max);

    /// <summary>As the float overload, for the n logits at <paramref name="x"/> stored as <typeparamref name="TLanes"/> says.</summary>
    // Straight to optimised code (dynamic PGO was measured to make these loops ~2.5x slower), and never
    // inlined (docs/benchmarks.md, How the kernels got here).
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static double SumMaxTermsApart<TOps, TV, TLanes>(ref byte x, int n, float max)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TLanes : struct, ILogitLanes<TV>
    {
        int k = TOps.Count, pending = 0;
        TV m = TOps.Create(max), zero = TOps.Create(0f), sum = zero, tops = zero;
        double total = 0;
        for (nint i = 0; NextVector(ref i, n, k, out int skip); i += k)
        {
            TV top = zero;
            TV e = VectorMath.MaxTermApart<TOps, TV>(TOps.Subtract(TLanes.Load(ref x, i), m), ref top);
            sum = TOps.Add(sum, skip > 0 ? TOps.KeepFrom(e, skip) : e);
            tops = TOps.Add(tops, skip > 0 ? TOps.KeepFrom(top, skip) : top);
            if (++pending == ApartFlush)
            {
                // On in double: a float sum of thousands of terms is off by 1e-6 of itself (the scalar width's one lane).
                total += TOps.SumWide(sum);
                sum = zero;
                pending = 0;
            }
        }

        return total + TOps.SumWide(sum, tops);
    }

    /// <summary>
    /// The two-pass loop's sum <paramref name="sum"/> of a block, or where one term leads (under <see cref="DominatedSum"/>)
    /// and some lane summed more than one term (over two vectors; at the scalar width, 64 terms to a flush),
    /// the sum again with the max's terms apart: beside that 1 the lane's float sum dropped the terms under 2^-25, and
    /// with one logit 17 above the rest all of them (3-56% of a small loss, 24 to 127 classes, by the width). From the
    /// stored exponentials where they are plain (<paramref name="capped"/> false: the max's terms are exactly 1), so that
    /// a block gives the same bits in place or not, else from the logits <paramref name="z"/> where the stored products
    /// (times a soft cap's derivative) were not written over them. A capped block whose products overwrote its logits
    /// keeps the loop's sum.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Dominated<TOps, TV>(double sum, ReadOnlySpan<float> z, float max, ReadOnlySpan<float> exps, bool capped)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        if (sum >= DominatedSum || z.Length <= 2 * TOps.Count || !float.IsFinite(max))
        {
            return sum;
        }

        return Resummed<TOps, TV>(sum, z, max, exps, capped);
    }

    // Out of line: the two-pass loop's callers inline Dominated's test alone.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static double Resummed<TOps, TV>(double sum, ReadOnlySpan<float> z, float max, ReadOnlySpan<float> exps, bool capped)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        TV one = TOps.Create(1f);
        if (!exps.IsEmpty && !capped)
        {
            return SumStoredTermsApart<TOps, TV>(exps.Slice(0, z.Length), one, one);
        }

        return exps.Overlaps(z) ? sum : SumMaxTermsApart<TOps, TV>(z, max);
    }

    /// <summary>
    /// sum e over stored exponentials e, relative to a block's max M, with M's own terms counted apart, as
    /// <see cref="SumMaxTermsApart{TOps, TV}(ReadOnlySpan{float}, float)"/> counts them from the logits: the terms equal to <paramref name="atMax"/> (M's, bitwise;
    /// never exceeded) count 1 each, and the others are scaled by <paramref name="toMax"/> (exp(z - M) = e toMax).
    /// </summary>
    // Straight to optimised code (dynamic PGO was measured to make these loops ~2.5x slower), and never
    // inlined (docs/benchmarks.md, How the kernels got here).
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static double SumStoredTermsApart<TOps, TV>(ReadOnlySpan<float> exps, TV atMax, TV toMax)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        int n = exps.Length, k = TOps.Count, pending = 0;
        ref float x = ref MemoryMarshal.GetReference(exps);
        TV one = TOps.Create(1f), zero = TOps.Create(0f), sum = zero, tops = zero;
        double total = 0;
        for (nint i = 0; NextVector(ref i, n, k, out int skip); i += k)
        {
            TV e = TOps.Load(ref x, i), below = TOps.LessThan(e, atMax);
            TV top = TOps.Select(below, zero, one);
            e = TOps.Select(below, e, TOps.Subtract(e, atMax));
            sum = TOps.Add(sum, skip > 0 ? TOps.KeepFrom(e, skip) : e);
            tops = TOps.Add(tops, skip > 0 ? TOps.KeepFrom(top, skip) : top);
            if (++pending == ApartFlush)
            {
                total += TOps.SumWide(TOps.Multiply(sum, toMax));
                sum = zero;
                pending = 0;
            }
        }

        return total + TOps.SumWide(TOps.Multiply(sum, toMax), tops);
    }

    // The float partial sums in use carried on in double, and started again from 0.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FlushAll<TOps, TV>(bool weightedLogits, bool hasTargets, ref TV wz, ref TV wt, ref TV wtz,
        ref double logits, ref double targets, ref double targetLogits)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        if (weightedLogits)
        {
            Flush<TOps, TV>(ref wz, ref logits);
        }

        if (hasTargets)
        {
            Flush<TOps, TV>(ref wt, ref targets);
            Flush<TOps, TV>(ref wtz, ref targetLogits);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Flush<TOps, TV>(ref TV partial, ref double total)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        total += TOps.Sum(partial);
        partial = TOps.Create(0f);
    }
}
