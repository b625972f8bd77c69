using System.Runtime.CompilerServices;

namespace Xent.Kernels;

/// <summary>
/// Two short rows' statistics side by side: rows of k to 8k floats at width k (10 to 127 classes at 512 bits, 8 to 63
/// with AVX2), whose statistics <see cref="StatisticsKernel.Compute{TOps, TV}(ref BlockStatistics, System.ReadOnlySpan{float}, System.ReadOnlySpan{float}, System.ReadOnlySpan{float}, bool, System.Span{float}, bool, float, bool)"/>
/// takes from <see cref="MaxExpSum"/>.
/// </summary>
/// <remarks>
/// Such a row is one chain of waits: its max across the lanes, then its exponentials, then their sum across the lanes
/// in double, about 130 cycles at 32 classes, with about 70 instructions of work. Row after row, the core held about two
/// rows' chains in flight; two rows written side by side overlap within one call. Each row's operations are
/// <see cref="BlockMaxLoop"/>'s and <see cref="ExpSumLoop"/>'s, lane for lane and in the same order (up to two vectors
/// the loops' adds to a zero sum left out: x + 0 is x for an exponential, never -0; and the last vector's exponentials
/// not computed twice where it is the second whole vector), so the bits are the same.
/// </remarks>
internal static partial class StatisticsKernel
{
    /// <summary>Whether rows of <paramref name="n"/> floats at the width of <typeparamref name="TOps"/> take <see cref="Pair{TOps, TV}"/>: those whose statistics come from <see cref="MaxExpSum"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool Pairs<TOps, TV>(int n, bool weightedLogits)
        where TOps : struct, IVectorOps<TV>
        where TV : struct =>
        TOps.Count > 1 && n >= TOps.Count && n < OnlineChunk * TOps.Count && !weightedLogits;

    /// <summary>
    /// The plain statistics (class-index targets, no weights) of rows a and b of <paramref name="n"/> floats each, where
    /// <see cref="Pairs{TOps, TV}"/>, and exp(z - max) stored where <paramref name="ea"/> and <paramref name="eb"/> are
    /// not null (they may be the rows themselves): <see cref="PairShort{TOps, TV}"/> up to two vectors, else
    /// <see cref="PairLoops{TOps, TV}"/>.
    /// </summary>
    /// <param name="za">Row a's n logits.</param>
    /// <param name="zb">Row b's, right after row a's where <paramref name="prefetch"/>.</param>
    /// <param name="n">The rows' length.</param>
    /// <param name="ea">Where row a's exponentials go, or null (then eb too).</param>
    /// <param name="eb">Row b's.</param>
    /// <param name="prefetch">Whether the logits go on after row b (pinned, not scratch): what follows is fetched.</param>
    /// <param name="a">Row a's statistics (all of them written).</param>
    /// <param name="b">Row b's.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void Pair<TOps, TV>(float* za, float* zb, int n, float* ea, float* eb, bool prefetch, ref BlockStatistics a, ref BlockStatistics b)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        if (n <= 2 * TOps.Count)
        {
            PairShort<TOps, TV>(za, zb, n, ea, eb, prefetch, ref a, ref b);
        }
        else
        {
            PairLoops<TOps, TV>(za, zb, n, ea, eb, prefetch, ref a, ref b);
        }
    }

    /// <summary>
    /// <see cref="MaxExpSum"/> of two rows of 2k to 8k floats in step: <see cref="BlockMaxLoop"/>'s and
    /// <see cref="ExpSumLoop"/>'s loops, each statement once for row a and once for row b (n under
    /// <see cref="ExpSumFlush"/> pairs, so the sums are never flushed), then <see cref="Dominated"/> for each.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static unsafe void PairLoops<TOps, TV>(float* za, float* zb, int n, float* ea, float* eb, bool prefetch, ref BlockStatistics a, ref BlockStatistics b)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        int k = TOps.Count;
        ref float xa = ref *za, xb = ref *zb;
        TV ma0 = TOps.Load(ref xa, n - k), ma1 = ma0, ma2 = ma0, ma3 = ma0;
        TV mb0 = TOps.Load(ref xb, n - k), mb1 = mb0, mb2 = mb0, mb3 = mb0;
        nint i = 0;
        for (; i <= n - (4 * k); i += 4 * k)
        {
            ma0 = TOps.Max(ma0, TOps.Load(ref xa, i));
            mb0 = TOps.Max(mb0, TOps.Load(ref xb, i));
            ma1 = TOps.Max(ma1, TOps.Load(ref xa, i + k));
            mb1 = TOps.Max(mb1, TOps.Load(ref xb, i + k));
            ma2 = TOps.Max(ma2, TOps.Load(ref xa, i + (2 * k)));
            mb2 = TOps.Max(mb2, TOps.Load(ref xb, i + (2 * k)));
            ma3 = TOps.Max(ma3, TOps.Load(ref xa, i + (3 * k)));
            mb3 = TOps.Max(mb3, TOps.Load(ref xb, i + (3 * k)));
        }

        for (; i <= n - k; i += k)
        {
            ma0 = TOps.Max(ma0, TOps.Load(ref xa, i));
            mb0 = TOps.Max(mb0, TOps.Load(ref xb, i));
        }

        float maxA = TOps.MaxAcross(TOps.Max(TOps.Max(ma0, ma1), TOps.Max(ma2, ma3)));
        float maxB = TOps.MaxAcross(TOps.Max(TOps.Max(mb0, mb1), TOps.Max(mb2, mb3)));
        TV sa = TOps.Create(maxA == float.NegativeInfinity ? 0f : maxA), sb = TOps.Create(maxB == float.NegativeInfinity ? 0f : maxB);
        nint last = n - k;
        TV ta = TOps.Exp(TOps.Subtract(TOps.Load(ref xa, last), sa)), tb = TOps.Exp(TOps.Subtract(TOps.Load(ref xb, last), sb));
        TV a0 = TOps.Create(0f), a1 = a0, b0 = a0, b1 = a0;
        bool store = ea != null;
        for (i = 0; i <= n - (2 * k); i += 2 * k)
        {
            if (prefetch)
            {
                Prefetch(ref zb[n + (2 * i)]);
                Prefetch(ref zb[n + (2 * i) + (2 * k)]);
            }

            TV ea0 = TOps.Exp(TOps.Subtract(TOps.Load(ref xa, i), sa)), ea1 = TOps.Exp(TOps.Subtract(TOps.Load(ref xa, i + k), sa));
            TV eb0 = TOps.Exp(TOps.Subtract(TOps.Load(ref xb, i), sb)), eb1 = TOps.Exp(TOps.Subtract(TOps.Load(ref xb, i + k), sb));
            if (store)
            {
                TOps.Store(ea0, ref *ea, i);
                TOps.Store(ea1, ref *ea, i + k);
                TOps.Store(eb0, ref *eb, i);
                TOps.Store(eb1, ref *eb, i + k);
            }

            a0 = TOps.Add(a0, ea0);
            a1 = TOps.Add(a1, ea1);
            b0 = TOps.Add(b0, eb0);
            b1 = TOps.Add(b1, eb1);
        }

        if (i <= n - k)
        {
            TV ea0 = TOps.Exp(TOps.Subtract(TOps.Load(ref xa, i), sa)), eb0 = TOps.Exp(TOps.Subtract(TOps.Load(ref xb, i), sb));
            if (store)
            {
                TOps.Store(ea0, ref *ea, i);
                TOps.Store(eb0, ref *eb, i);
            }

            a0 = TOps.Add(a0, ea0);
            b0 = TOps.Add(b0, eb0);
            i += k;
        }

        int rest = n - (int)i;
        if (rest > 0)
        {
            a1 = TOps.Add(a1, TOps.KeepFrom(ta, k - rest));
            b1 = TOps.Add(b1, TOps.KeepFrom(tb, k - rest));
        }

        if (store)
        {
            TOps.Store(ta, ref *ea, last);
            TOps.Store(tb, ref *eb, last);
        }

        double total = 0;
        a = default;
        b = default;
        a.Max = maxA;
        b.Max = maxB;
        a.Sum = Dominated<TOps, TV>(total + TOps.SumWide(a0, a1), new ReadOnlySpan<float>(za, n), maxA, store ? new ReadOnlySpan<float>(ea, n) : default, capped: false);
        b.Sum = Dominated<TOps, TV>(total + TOps.SumWide(b0, b1), new ReadOnlySpan<float>(zb, n), maxB, store ? new ReadOnlySpan<float>(eb, n) : default, capped: false);
    }

    /// <summary>
    /// <see cref="Pair{TOps, TV}"/> of rows of k to 2k floats, written out without the loops (10 and 32 classes at 512
    /// bits, 10 at 256).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static unsafe void PairShort<TOps, TV>(float* za, float* zb, int n, float* ea, float* eb, bool prefetch, ref BlockStatistics a, ref BlockStatistics b)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        int k = TOps.Count;
        bool whole = n == 2 * k;
        if (prefetch)
        {
            Prefetch(ref zb[n]);
        }

        // BlockMaxLoop: m0 from the shifted-back last vector, then each whole vector; m1 = m2 = m3 = that last vector.
        TV ta = TOps.Load(ref *za, n - k), tb = TOps.Load(ref *zb, n - k);
        TV a0 = TOps.Load(ref *za, 0), b0 = TOps.Load(ref *zb, 0);
        TV ma = TOps.Max(ta, a0), mb = TOps.Max(tb, b0);
        if (whole)
        {
            // The second whole vector is the last one.
            ma = TOps.Max(ma, ta);
            mb = TOps.Max(mb, tb);
        }

        float maxA = TOps.MaxAcross(TOps.Max(TOps.Max(ma, ta), TOps.Max(ta, ta)));
        float maxB = TOps.MaxAcross(TOps.Max(TOps.Max(mb, tb), TOps.Max(tb, tb)));

        // ExpSumLoop: the last vector's exponentials, then the whole vectors' (a pair, or one and the last vector's
        // lanes past it), summed in double.
        TV sa = TOps.Create(maxA == float.NegativeInfinity ? 0f : maxA), sb = TOps.Create(maxB == float.NegativeInfinity ? 0f : maxB);
        TV xa = TOps.Exp(TOps.Subtract(ta, sa)), xb = TOps.Exp(TOps.Subtract(tb, sb));
        TV ea0 = TOps.Exp(TOps.Subtract(a0, sa)), eb0 = TOps.Exp(TOps.Subtract(b0, sb));
        TV ea1 = whole ? xa : TOps.KeepFrom(xa, 2 * k - n), eb1 = whole ? xb : TOps.KeepFrom(xb, 2 * k - n);

        if (ea != null)
        {
            TOps.Store(ea0, ref *ea, 0);
            TOps.Store(eb0, ref *eb, 0);
            TOps.Store(xa, ref *ea, n - k);
            TOps.Store(xb, ref *eb, n - k);
        }

        a = default;
        b = default;
        a.Max = maxA;
        b.Max = maxB;
        a.Sum = TOps.SumWide(ea0, ea1);
        b.Sum = TOps.SumWide(eb0, eb1);
    }
}
