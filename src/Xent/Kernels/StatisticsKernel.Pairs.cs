using System.Runtime.CompilerServices;

namespace Xent.Kernels;

/// <summary>
/// Two short rows' statistics side by side: rows of k to 2k floats at width k (10 and 32 classes at 512 bits, 10 at
/// 256), whose statistics <see cref="StatisticsKernel.Compute{TOps, TV}(ref BlockStatistics, System.ReadOnlySpan{float}, System.ReadOnlySpan{float}, System.ReadOnlySpan{float}, bool, System.Span{float}, bool, float, bool)"/>
/// takes from <see cref="MaxExpSum"/>.
/// </summary>
/// <remarks>
/// Such a row is one chain of waits: its max across the lanes, then its exponentials, then their sum across the lanes
/// in double, about 130 cycles, with about 70 instructions of work. Row after row, the core held about two rows' chains
/// in flight; two rows written side by side overlap within one call. Each row's operations are
/// <see cref="BlockMaxLoop"/>'s and <see cref="ExpSumLoop"/>'s at those lengths, lane for lane and in the same order (the
/// loops' adds to a zero sum left out: x + 0 is x for an exponential, never -0; the last vector's exponentials not
/// computed twice where it is the second whole vector), so the bits are the same.
/// </remarks>
internal static partial class StatisticsKernel
{
    /// <summary>Whether rows of <paramref name="n"/> floats at the width of <typeparamref name="TOps"/> take <see cref="Pair{TOps, TV}"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool Pairs<TOps, TV>(int n, bool weightedLogits)
        where TOps : struct, IVectorOps<TV>
        where TV : struct =>
        TOps.Count > 1 && n >= TOps.Count && n <= 2 * TOps.Count && !weightedLogits;

    /// <summary>
    /// The plain statistics (class-index targets, no weights) of rows a and b of <paramref name="n"/> floats each, where
    /// <see cref="Pairs{TOps, TV}"/>, and exp(z - max) stored where <paramref name="ea"/> and <paramref name="eb"/> are
    /// not null (they may be the rows themselves).
    /// </summary>
    /// <param name="za">Row a's n logits.</param>
    /// <param name="zb">Row b's.</param>
    /// <param name="n">The rows' length, k to 2k at this width.</param>
    /// <param name="ea">Where row a's exponentials go, or null (then eb too).</param>
    /// <param name="eb">Row b's.</param>
    /// <param name="prefetch">Whether the logits go on after row b (pinned, not scratch): its next two lines are fetched.</param>
    /// <param name="a">Row a's statistics (all of them written).</param>
    /// <param name="b">Row b's.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    internal static unsafe void Pair<TOps, TV>(float* za, float* zb, int n, float* ea, float* eb, bool prefetch, ref BlockStatistics a, ref BlockStatistics b)
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
