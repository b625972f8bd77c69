using System.Runtime.CompilerServices;

namespace Xent.Kernels;

/// <summary>Vector functions .NET does not provide, written once over <see cref="IVectorOps{TV}"/>.</summary>
internal static class VectorMath
{
    // tanh(x) = x + x^3 P(x^2) on |x| < 0.625: a least-squares fit of the relative error at Chebyshev nodes
    // (fitted for this project; max error 0.82 ulp in float). Beyond it (1 - e) / (1 + e) with e = exp(-2|x|)
    // has no cancellation, since e <= exp(-1.25).
    private const float SmallLimit = 0.625f;

    private const float T0 = -0.33333287f;
    private const float T1 = 0.13331513f;
    private const float T2 = -0.05374466f;
    private const float T3 = 0.020653129f;
    private const float T4 = -0.0057189674f;

    /// <summary>How far ahead the soft cap's loop prefetches the logits it reads (as the statistics loop).</summary>
    private const int PrefetchAheadBytes = 8192;

    /// <summary>tanh(x) lane-wise to about 2 ulp; +-1 for +-inf, NaN for NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Tanh<TOps, TV>(TV x)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        TV ax = TOps.Abs(x);
        TV u = TOps.Multiply(ax, ax);
        TV p = TOps.MultiplyAdd(TOps.Create(T4), u, TOps.Create(T3));
        p = TOps.MultiplyAdd(p, u, TOps.Create(T2));
        p = TOps.MultiplyAdd(p, u, TOps.Create(T1));
        p = TOps.MultiplyAdd(p, u, TOps.Create(T0));
        TV small = TOps.MultiplyAdd(TOps.Multiply(ax, u), p, ax);

        // Capped logits are mostly far below the cap (x = z / s, s = 30 for Gemma 2): the exp and the division of the
        // large branch are skipped for vectors without a large lane, the same lanes as the select would give.
        if (TOps.AllLessThan(ax, TOps.Create(SmallLimit)))
        {
            return TOps.CopySign(small, x);
        }

        TV e = TOps.Exp(TOps.Multiply(ax, TOps.Create(-2f)));
        TV one = TOps.Create(1f);
        TV large = TOps.Divide(TOps.Subtract(one, e), TOps.Add(one, e));
        return TOps.CopySign(TOps.Select(TOps.LessThan(ax, TOps.Create(SmallLimit)), small, large), x);
    }

    /// <summary>Scalar tanh with the same formula as the vector lanes (used for single logits such as the target's).</summary>
    public static float Tanh(float x) => Tanh<ScalarOps, float>(x);

    /// <summary>One logit soft-capped as the lanes do it, s * tanh(x / s); x itself when s is 0 (off).</summary>
    public static float SoftCap(float x, float cap) => cap > 0f ? cap * Tanh(x * (1f / cap)) : x;

    /// <summary>
    /// One logit of a block of <paramref name="blockLength"/> logits, capped bit for bit as that block's lanes cap it
    /// at <paramref name="width"/>; x itself when s is 0 (off). Past x / s = 0.625 the tanh takes an exp, and each
    /// width's exp rounds its own way (the scalar lanes' is MathF.Exp): a target capped by another formula than its
    /// block's was an ulp of z off the row's max where it is the max, all of a confident row's small loss.
    /// </summary>
    public static float SoftCap(VectorWidth width, int blockLength, float x, float cap)
    {
        if (!(cap > 0f))
        {
            return x;
        }

        var fit = Widths.Fit(width, blockLength);
        Span<float> lanes = stackalloc float[16];
        lanes = lanes[..(fit == VectorWidth.Scalar ? 1 : (int)fit / 32)];
        lanes.Fill(x);
        SoftCap(fit, lanes, lanes, cap);
        return lanes[0];
    }

    /// <summary>
    /// The soft cap's derivative at a capped logit z, lane-wise: dz/dx = 1 - tanh^2 = 1 - (z / s)^2, given 1 / s (the
    /// general gradient write and the stored exponentials round it alike).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV SoftCapDerivative<TOps, TV>(TV z, TV inverseCap)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        TV u = TOps.Multiply(z, inverseCap);
        return TOps.Subtract(TOps.Create(1f), TOps.Multiply(u, u));
    }

    /// <summary>
    /// exp(<paramref name="diff"/>), less 1 where diff (z less its max) is not below 0: a max's term, exactly 1, counted
    /// in <paramref name="ties"/> instead, so that the sums the small terms go to never hold a 1 beside them (where
    /// one logit leads by 17 they would drop them all). A NaN difference gives NaN - 1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV MaxTermApart<TOps, TV>(TV diff, ref TV ties)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        TV e = TOps.Exp(diff), one = TOps.Create(1f), below = TOps.LessThan(diff, TOps.Create(0f));
        ties = TOps.Add(ties, TOps.Select(below, TOps.Create(0f), one));
        return TOps.Select(below, e, TOps.Subtract(e, one));
    }

    /// <summary>
    /// How far (in capped units) below the block's max a lane's max must stay for the block to have a chance that its
    /// max leads the rest 16 to 1: a little under ln 16, so that float's roundings never hide such a block.
    /// </summary>
    private const float LeadMargin = 2.7f;

    /// <summary>destination = s * tanh(source / s); destination may be source itself.</summary>
    /// <param name="width">Widest vector width allowed.</param>
    /// <param name="source">The logits.</param>
    /// <param name="destination">Where the capped logits go, as long as the source.</param>
    /// <param name="cap">s, above 0.</param>
    /// <param name="prefetch">Whether the source is read from memory, followed by more of it (the logits themselves):
    /// then the loop prefetches 8 KB ahead, as the statistics loop does, so that memory streams while the tanh is
    /// computed (prefetches never fault).</param>
    public static void SoftCap(VectorWidth width, ReadOnlySpan<float> source, Span<float> destination, float cap, bool prefetch = false) =>
        _ = SoftCap<No>(width, source, destination, cap, prefetch);

    /// <summary>
    /// <see cref="SoftCap(VectorWidth, ReadOnlySpan{float}, Span{float}, float, bool)"/>, and whether the capped block
    /// may be one that its max leads 16 to 1 (exp(c - max) summed under 1 1/16): whether one lane alone, of the lanes
    /// the loop's vectors make (each value in one lane), has values within ln 16 of the max. Always so where the max
    /// leads; seldom otherwise (never where two lanes hold values near the max). Its own loop, so that other callers
    /// do not pay the lanes' max (short rows: 1.07x the time).
    /// </summary>
    public static bool SoftCapMayLead(VectorWidth width, ReadOnlySpan<float> source, Span<float> destination, float cap, bool prefetch = false) =>
        SoftCap<Yes>(width, source, destination, cap, prefetch);

    private static bool SoftCap<TLead>(VectorWidth width, ReadOnlySpan<float> source, Span<float> destination, float cap, bool prefetch)
        where TLead : struct, IConstant =>
        Widths.Fit(width, source.Length) switch
        {
            VectorWidth.V512 => SoftCap<Vector512Ops, System.Runtime.Intrinsics.Vector512<float>, TLead>(source, destination, cap, prefetch),
            VectorWidth.V256 => SoftCap<Vector256Ops, System.Runtime.Intrinsics.Vector256<float>, TLead>(source, destination, cap, prefetch),
            VectorWidth.V128 => SoftCap<Vector128Ops, System.Runtime.Intrinsics.Vector128<float>, TLead>(source, destination, cap, prefetch),
            _ => SoftCap<ScalarOps, float, TLead>(source, destination, cap, false),
        };

    // Straight to optimised code (dynamic PGO was measured to make these loops ~2.5x slower), and never
    // inlined (docs/benchmarks.md, How the kernels got here).
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static bool SoftCap<TOps, TV, TLead>(ReadOnlySpan<float> source, Span<float> destination, float cap, bool prefetch)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TLead : struct, IConstant
    {
        int n = source.Length, k = TOps.Count;
        ref float x = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(source);
        ref float d = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(destination);
        TV s = TOps.Create(cap), inv = TOps.Create(1f / cap), top = TOps.Create(float.NegativeInfinity);

        // The last, shifted-back vector is computed before the loop overwrites (in place) the lanes it overlaps.
        nint last = n - k, i = 0;
        TV tail = TOps.Multiply(s, Tanh<TOps, TV>(TOps.Multiply(TOps.Load(ref x, last), inv)));
        for (; i < last; i += k)
        {
            if (prefetch)
            {
                StatisticsKernel.PrefetchChunk(ref Unsafe.Add(ref Unsafe.As<float, byte>(ref Unsafe.Add(ref x, i)), PrefetchAheadBytes), k * sizeof(float));
            }

            TV capped = TOps.Multiply(s, Tanh<TOps, TV>(TOps.Multiply(TOps.Load(ref x, i), inv)));
            if (TLead.Value)
            {
                top = TOps.Max(top, capped);
            }

            TOps.Store(capped, ref d, i);
        }

        TOps.Store(tail, ref d, last);
        if (!TLead.Value)
        {
            return false;
        }

        // The tail's lanes below the loop's end are values the loop counted, in other lanes.
        top = TOps.Max(top, StatisticsKernel.NegativeInfinityBelow<TOps, TV>(tail, (int)(i - last)));
        float max = TOps.MaxAcross(top);
        TV near = TOps.LessThan(TOps.Create(max - LeadMargin), top);
        return TOps.Sum(TOps.Select(near, TOps.Create(1f), TOps.Create(0f))) == 1f;
    }
}
