using System.Runtime.CompilerServices;
using Xent.Kernels;

namespace Xent.Fused;

/// <summary>
/// What happens to a logits tile [vb classes, cols tokens] (row stride <see cref="FusedKernel.TokenBlock"/>) while it
/// is in cache. Lanes run along tokens, so per-token state lives in vectors and a class's bias, weight and row are
/// broadcasts. The lane operators are the core kernel's (<see cref="IVectorOps{TV}"/>), so a logit gets the same
/// exponential and soft cap here as in <see cref="CrossEntropy"/>. Formulas: docs/spec/cross-entropy.md.
/// </summary>
internal static unsafe class TileEpilogues
{
    private const int Stride = FusedKernel.TokenBlock;

    /// <summary>
    /// Below this, the rest of a tile that holds a token's max is summed again with the max's term apart (see
    /// <see cref="Forward"/>): above it, what a sum holding 1 drops (at most half an ulp of 1 per term, 126 terms) is
    /// under 1e-4 of the rest.
    /// </summary>
    private const float MaxTermRest = 1f / 16;

    /// <summary>
    /// Adds the bias and applies the soft cap in place (the tile then holds z), and folds the tile into the running
    /// per-token max m, sum of exp(z - m) s, and smoothing sum sm = sum_c w[c] z[c] (when smoothing); when tileMax is
    /// not null, also stores each token's largest z in this tile there. When q is not null it also keeps the running
    /// q = sum exp(z - m) (z - m), for the entropy (a -inf logit adds 0 there, not 0 x -inf).
    /// </summary>
    // Straight to optimised code, as the core kernels: at Tier0 and then through on-stack replacement, a process's first
    // fused calls ran these loops several times slower (docs/benchmarks.md, First call).
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void Forward<TL, TV>(float* tile, int vb, int cols, float* bias, float* weights, bool smoothing, float cap,
        float* m, float* s, float* sm, float* q, float* tileMax)
        where TL : struct, IVectorOps<TV>
        where TV : struct
    {
        bool rewrite = bias != null || cap > 0;
        TV capV = TL.Create(cap), invCap = TL.Create(cap > 0 ? 1 / cap : 0);
        for (int j = 0; j < cols; j += TL.Count)
        {
            float* col = tile + j;
            TV mOld = TL.Load(ref *m, j), smooth = TL.Load(ref *sm, j), tmx = TL.Create(float.NegativeInfinity);
            for (int r = 0; r < vb; r++)
            {
                float* pz = col + (r * Stride);
                TV x = TL.Load(ref *pz, 0);
                if (bias != null)
                {
                    x = TL.Add(x, TL.Create(bias[r]));
                }

                if (cap > 0)
                {
                    x = TL.Multiply(capV, VectorMath.Tanh<TL, TV>(TL.Multiply(x, invCap)));
                }

                if (rewrite)
                {
                    TL.Store(x, ref *pz, 0);
                }

                tmx = TL.Max(tmx, x);
                if (smoothing)
                {
                    smooth = weights == null ? TL.Add(smooth, x) : TL.MultiplyAdd(TL.Create(weights[r]), x, smooth);
                }
            }

            TV mx = TL.Max(mOld, tmx);
            if (tileMax != null)
            {
                TL.Store(tmx, ref *tileMax, j);
            }

            // Online softmax: rescale the old sum to the new max. A max of -inf (nothing finite yet) uses 0 as the
            // reference, so exp gives 0 instead of exp(-inf + inf) = NaN. The tile's terms are summed on their own
            // and added to the running sum once: added one by one, terms below half an ulp of a large running sum
            // (V in the millions and up) would be lost.
            TV reference = TL.Select(TL.LessThan(mx, TL.Create(float.MinValue)), default, mx); // 0 where mx is -inf
            TV rescale = TL.Exp(TL.Subtract(mOld, reference));

            // s is kept less 1, the max's term, wherever the max is finite: beside a sum of 1 the float terms under
            // 2^-25 are dropped (where one logit leads the rest by 17, all of them, and with them the loss). The tile's
            // sums hold its max's term exp(0) = 1 where a token's max is in it (tmx = mx); s moves to the new max with
            // the 1 it left out (off r) and gives up the new max's: off r - off_new, 0 where the max stays.
            // Where the rest of such a tile's terms sum under 1/16, the sums that held the 1 lost too much of them:
            // that tile is summed again with each max's term apart (MaxTermsApart), and the 1s it counts go to s.
            // Taken as off r + (ties - off_new): the count less off_new is a small integer, exact, so where the tile's
            // 1s were counted apart the old max's term r stays whole. As (off r - off_new) + ties it was rounded at the
            // scale of 1 first, and where the max rises by 17 or more r went with it: e^-24 when it rises from 1 to 25,
            // 2.4e-3 of that token's loss at V = 1000 (LinearCrossEntropyLeadingLogitTests). Where the plain sums
            // stand (ties = 0), or the max stays (r = 1), both orders give the same bits.
            TV one = TL.Create(1f), zero = TL.Create(0f), finite = TL.Create(float.MinValue);
            TV offOld = TL.Select(TL.LessThan(mOld, finite), zero, one), offNew = TL.Select(TL.LessThan(mx, finite), zero, one);
            TV sum0 = zero, sum1 = zero, ties = zero;
            bool leads = !TL.AllLessThan(tmx, mx);
            if (q == null)
            {
                int r2 = 0;
                for (; r2 + 1 < vb; r2 += 2)
                {
                    sum0 = TL.Add(sum0, TL.Exp(TL.Subtract(TL.Load(ref *col, r2 * Stride), reference)));
                    sum1 = TL.Add(sum1, TL.Exp(TL.Subtract(TL.Load(ref *col, (r2 + 1) * Stride), reference)));
                }

                if (r2 < vb)
                {
                    sum0 = TL.Add(sum0, TL.Exp(TL.Subtract(TL.Load(ref *col, r2 * Stride), reference)));
                }

                if (leads)
                {
                    TV apart0 = zero, apart1 = zero;
                    if (NeedsMaxTermsApart<TL, TV>(tmx, mx, offNew, sum0, sum1, out TV enough))
                    {
                        MaxTermsApart<TL, TV>(col, vb, reference, ref apart0, ref apart1, ref ties);
                        KeepWhereEnough<TL, TV>(enough, ref sum0, ref sum1, ref ties, apart0, apart1);
                    }
                }
            }
            else
            {
                TV apart0 = zero, apart1 = zero;
                EntropySums<TL, TV>(col, vb, reference, ref sum0, ref sum1, ref apart0, ref apart1, ref ties, leads, TL.Subtract(mOld, reference), TL.Add(TL.Load(ref *s, j), offOld), q + j);
                if (leads && NeedsMaxTermsApart<TL, TV>(tmx, mx, offNew, sum0, sum1, out TV enough))
                {
                    KeepWhereEnough<TL, TV>(enough, ref sum0, ref sum1, ref ties, apart0, apart1);
                }
                else
                {
                    ties = zero;
                }
            }

            TV carried = TL.MultiplyAdd(TL.Load(ref *s, j), rescale, TL.Add(TL.Multiply(offOld, rescale), TL.Subtract(ties, offNew)));

            TL.Store(mx, ref *m, j);
            TL.Store(TL.Add(carried, TL.Add(sum0, sum1)), ref *s, j);
            TL.Store(smooth, ref *sm, j);
        }
    }

    /// <summary>
    /// The sums of exp(z - R) over a tile that holds a token's max (R = that max), with each max's term, exp(0) = 1,
    /// summed as 0 and counted in <paramref name="ties"/> (see <see cref="Forward"/>); the same pairing as the plain
    /// loop. A NaN difference sums NaN - 1.
    /// </summary>
    private static void MaxTermsApart<TL, TV>(float* col, int vb, TV reference, ref TV sum0, ref TV sum1, ref TV ties)
        where TL : struct, IVectorOps<TV>
        where TV : struct
    {
        for (int r = 0; r < vb; r++)
        {
            TV e = VectorMath.MaxTermApart<TL, TV>(TL.Subtract(TL.Load(ref *col, r * Stride), reference), ref ties);
            if ((r & 1) == 0)
            {
                sum0 = TL.Add(sum0, e);
            }
            else
            {
                sum1 = TL.Add(sum1, e);
            }
        }
    }

    /// <summary>
    /// Whether some token's max is in this tile (tmx = mx) with the rest of the tile's terms
    /// under <see cref="MaxTermRest"/>: then the sums that held its 1 dropped too much of them. <paramref name="enough"/>
    /// marks the tokens whose plain sums stand.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool NeedsMaxTermsApart<TL, TV>(TV tmx, TV mx, TV offNew, TV sum0, TV sum1, out TV enough)
        where TL : struct, IVectorOps<TV>
        where TV : struct
    {
        TV lead = TL.Select(TL.LessThan(tmx, mx), TL.Create(0f), offNew);
        TV bar = TL.Multiply(lead, TL.Create(MaxTermRest));
        TV room = TL.Add(TL.Subtract(TL.Add(sum0, sum1), lead), TL.Subtract(TL.Create(1f), lead));
        enough = TL.LessThan(bar, room);
        return !TL.AllLessThan(bar, room);
    }

    /// <summary>
    /// The plain sums where <paramref name="enough"/>, the sums with each max's term apart (and their count) elsewhere:
    /// each token's choice is its own, so that its bits never depend on the tokens beside it (batch invariance).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void KeepWhereEnough<TL, TV>(TV enough, ref TV sum0, ref TV sum1, ref TV ties, TV apart0, TV apart1)
        where TL : struct, IVectorOps<TV>
        where TV : struct
    {
        sum0 = TL.Select(enough, sum0, apart0);
        sum1 = TL.Select(enough, sum1, apart1);
        ties = TL.Select(enough, TL.Create(0f), ties);
    }

    /// <summary>
    /// The sums of exp(z - R) as <see cref="Forward"/> takes them (the same pairing, so lse keeps its bits; with
    /// <paramref name="leads"/>, also with each max's term apart, as <see cref="MaxTermsApart"/> sums them), and the entropy sum q (at *q,
    /// relative to the old max) moved to R = reference and grown by the tile's exp(z - R) (z - R). Differences are
    /// floored at float.MinValue so that a -inf logit adds 0, not 0 x -inf.
    /// </summary>
    private static void EntropySums<TL, TV>(float* col, int vb, TV reference, ref TV sum0, ref TV sum1, ref TV apart0, ref TV apart1, ref TV ties, bool leads, TV shift, TV oldSum, float* q)
        where TL : struct, IVectorOps<TV>
        where TV : struct
    {
        // sum exp(z - R) (z - R) = exp(m - R) (q + (m - R) s) for the terms summed so far at the old max m.
        TV floor = TL.Create(float.MinValue);
        TV acc = TL.Multiply(TL.Exp(shift), TL.MultiplyAdd(TL.Max(shift, floor), oldSum, TL.Load(ref *q, 0)));
        for (int r = 0; r < vb; r++)
        {
            TV diff = TL.Subtract(TL.Load(ref *col, r * Stride), reference);
            TV e = TL.Exp(diff);
            TV x = TL.Max(diff, floor);
            TV term = leads ? VectorMath.MaxTermApart<TL, TV>(diff, ref ties) : e;
            if ((r & 1) == 0)
            {
                sum0 = TL.Add(sum0, e);
                apart0 = TL.Add(apart0, term);
            }
            else
            {
                sum1 = TL.Add(sum1, e);
                apart1 = TL.Add(apart1, term);
            }

            acc = TL.MultiplyAdd(e, x, acc);
        }

        TL.Store(acc, ref *q, 0);
    }

    /// <summary>
    /// Turns the raw logits tile into dL/dx in place, except the target entries (set afterwards):
    /// g = (p * coefP - coefS * w[c]) * cap' for kept tokens, 0 for the rest; marks rows with an entry at or above
    /// the filter threshold in <paramref name="active"/> (only when the threshold is positive). When
    /// <paramref name="holdsZ"/> the tile already holds z (bias added, cap applied; pass no bias). When coefH is not
    /// null, g also gains coefH p (z - meanZ): the entropy's gradient, coefH = -dL/dH and meanZ = E[z]. When coefP2
    /// is not null, p coefP is multiplied by it (a power of two per token, 1 for most: K beyond float's range as
    /// coefP 2^j, so that p = 0 gives 0, not inf x 0).
    /// </summary>
    // Straight to optimised code, as the core kernels: at Tier0 and then through on-stack replacement, a process's first
    // fused calls ran these loops several times slower (docs/benchmarks.md, First call).
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void Backward<TL, TV>(float* tile, int vb, int cols, float* bias, float* weights, float cap, bool holdsZ, bool smoothing,
        float* lse, float* coefP, float* coefS, float* coefH, float* meanZ, float* mask, float threshold, byte* active, float* coefP2 = null)
        where TL : struct, IVectorOps<TV>
        where TV : struct
    {
        TV capV = TL.Create(cap), invCap = TL.Create(cap > 0 ? 1 / cap : 0), one = TL.Create(1f), thr = TL.Create(threshold);
        bool filter = threshold > 0;
        for (int j = 0; j < cols; j += TL.Count)
        {
            float* col = tile + j;
            TV l = TL.Load(ref *lse, j), cp = TL.Load(ref *coefP, j), mk = TL.Load(ref *mask, j);
            TV ncs = TL.Subtract(default, TL.Load(ref *coefS, j));
            TV ch = coefH == null ? default : TL.Load(ref *coefH, j), mz = coefH == null ? default : TL.Load(ref *meanZ, j);
            TV cp2 = coefP2 == null ? default : TL.Load(ref *coefP2, j);
            for (int r = 0; r < vb; r++)
            {
                float* pz = col + (r * Stride);
                TV z = TL.Load(ref *pz, 0);
                if (bias != null)
                {
                    z = TL.Add(z, TL.Create(bias[r]));
                }

                TV u = default;
                if (cap > 0 && holdsZ)
                {
                    u = TL.Multiply(z, invCap);
                }
                else if (cap > 0)
                {
                    // z as the forward stores it, then u from z as for a cached tile: cached and recomputed tiles
                    // give the same bits.
                    z = TL.Multiply(capV, VectorMath.Tanh<TL, TV>(TL.Multiply(z, invCap)));
                    u = TL.Multiply(z, invCap);
                }

                TV prob = TL.Exp(TL.Subtract(z, l));
                TV g = TL.Multiply(prob, cp);
                if (coefP2 != null)
                {
                    g = TL.Multiply(g, cp2);
                }
                if (coefH != null)
                {
                    // z - E[z] floored: a -inf logit (p = 0) adds 0, not 0 x -inf.
                    g = TL.MultiplyAdd(TL.Multiply(prob, ch), TL.Max(TL.Subtract(z, mz), TL.Create(float.MinValue)), g);
                }

                if (smoothing)
                {
                    g = TL.MultiplyAdd(ncs, weights == null ? one : TL.Create(weights[r]), g);
                }

                if (cap > 0)
                {
                    g = TL.Multiply(g, TL.MultiplyAdd(TL.Subtract(default, u), u, one));
                }

                g = TL.Select(mk, g, default);
                TL.Store(g, ref *pz, 0);
                if (filter && active[r] == 0 && !TL.AllLessThan(TL.Abs(g), thr))
                {
                    active[r] = 1;
                }
            }
        }
    }

    /// <summary>dBias[r] += sum over the tile's tokens of G[r, token], tokens summed in a fixed order.</summary>
    public static void AddRowSums<TL, TV>(float* tile, int vb, int cols, float* dBias)
        where TL : struct, IVectorOps<TV>
        where TV : struct
    {
        for (int r = 0; r < vb; r++)
        {
            float* row = tile + (r * Stride);
            TV acc = default;
            for (int j = 0; j < cols; j += TL.Count)
            {
                acc = TL.Add(acc, TL.Load(ref *row, j));
            }

            dBias[r] += TL.Sum(acc);
        }
    }
}
