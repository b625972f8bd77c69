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
            TV carried = TL.Multiply(TL.Load(ref *s, j), TL.Exp(TL.Subtract(mOld, reference)));
            TV sum0 = default, sum1 = default;
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
            }
            else
            {
                EntropySums<TL, TV>(col, vb, reference, ref sum0, ref sum1, TL.Subtract(mOld, reference), TL.Load(ref *s, j), q + j);
            }

            TL.Store(mx, ref *m, j);
            TL.Store(TL.Add(carried, TL.Add(sum0, sum1)), ref *s, j);
            TL.Store(smooth, ref *sm, j);
        }
    }

    /// <summary>
    /// The sums of exp(z - R) as <see cref="Forward"/> takes them (the same pairing, so lse keeps its bits), and the
    /// entropy sum q (at *q, relative to the old max) moved to R = reference and grown by the tile's
    /// exp(z - R) (z - R). Differences are floored at float.MinValue so that a -inf logit adds 0, not 0 x -inf.
    /// </summary>
    private static void EntropySums<TL, TV>(float* col, int vb, TV reference, ref TV sum0, ref TV sum1, TV shift, TV oldSum, float* q)
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
            if ((r & 1) == 0)
            {
                sum0 = TL.Add(sum0, e);
            }
            else
            {
                sum1 = TL.Add(sum1, e);
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
    /// null, g also gains coefH p (z - meanZ): the entropy's gradient, coefH = -dL/dH and meanZ = E[z].
    /// </summary>
    // Straight to optimised code, as the core kernels: at Tier0 and then through on-stack replacement, a process's first
    // fused calls ran these loops several times slower (docs/benchmarks.md, First call).
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void Backward<TL, TV>(float* tile, int vb, int cols, float* bias, float* weights, float cap, bool holdsZ, bool smoothing,
        float* lse, float* coefP, float* coefS, float* coefH, float* meanZ, float* mask, float threshold, byte* active)
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
