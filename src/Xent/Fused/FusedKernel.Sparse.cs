using Xent.Kernels;

namespace Xent.Fused;

/// <summary>The backward's entries done one by one: target entries, sparse strips, the targets of skipped tiles.</summary>
internal static unsafe partial class FusedKernel
{
    private sealed partial class Runner<TL, TV>
    {
        /// <summary>Writes the target entries of the tile's tokens (in double, as the core kernel) and marks their rows.</summary>
        private void TargetEntries(int c0, int vb, float* tile, byte* active)
        {
            for (int t = 0; t < tbn; t++)
            {
                int y = p.Targets[t0 + t];
                if (y == p.IgnoreIndex || (uint)(y - c0) >= (uint)vb)
                {
                    continue;
                }

                float gt = TargetGradient(t, y);
                tile[((y - c0) * TB) + t] = gt;
                if (!(MathF.Abs(gt) < p.FilterThreshold))
                {
                    active[y - c0] = 1;
                }
            }
        }

        /// <summary>dL/dz at token t's target y, soft cap's factor included, with the entropy term when asked for.</summary>
        private float TargetGradient(int t, int y)
        {
            double g = RowGradient(t, y).Target(zTarget[t]);
            if (p.EntropyUpstream != null)
            {
                // dH/dz[y] = -p[y] (z[y] - E[z]), times the soft cap's factor 1 - (z/cap)^2; z - E[z] floored as in the
                // tile epilogue: a -inf target logit (p = 0) adds 0, not 0 x -inf.
                double z = zTarget[t], pt = RowLogSumExp(t).Probability(z), u = p.SoftCap > 0 ? z / p.SoftCap : 0;
                g -= p.EntropyUpstream[t0 + t] * pt * Math.Max(z - rowMeanLogit[t], float.MinValue) * (1 - (u * u));
            }

            return (float)g;
        }

        // Entry by entry: dW[c] += g h[t] and dh[t] += g W[c] for every |g| at or above the threshold, in (c, t) order.
        private void SparseStrip(int c0, int r0, int r1, float* tile, float* dhRows)
        {
            int d = p.D;
            float thr = p.FilterThreshold;
            for (int r = r0; r < r1; r++)
            {
                float* row = tile + (r * TB);
                float* wRow = WeightRows(c0 + r, 1);
                float* dwRow = p.DWeight + ((nint)(c0 + r) * d);
                for (int t = 0; t < tbn; t++)
                {
                    float g = row[t];
                    if (MathF.Abs(g) < thr)
                    {
                        continue;
                    }

                    Axpy(g, blockHidden + ((nint)t * d), dwRow, d);
                    Axpy(g, wRow, dhRows + ((nint)t * d), d);
                }
            }
        }

        // A skipped tile's target entries are not small: they go in as rank-one updates.
        private void SkippedTileTargets(int c0, int vb, float* dhRows)
        {
            int d = p.D;
            for (int t = 0; t < tbn; t++)
            {
                int y = p.Targets[t0 + t];
                if (y == p.IgnoreIndex || (uint)(y - c0) >= (uint)vb)
                {
                    continue;
                }

                float gt = TargetGradient(t, y);
                if (p.DBias != null)
                {
                    p.DBias[y] += gt;
                }

                if (!(MathF.Abs(gt) < p.FilterThreshold))
                {
                    Axpy(gt, blockHidden + ((nint)t * d), p.DWeight + ((nint)y * d), d);
                    Axpy(gt, WeightRows(y, 1), dhRows + ((nint)t * d), d);
                }
            }
        }

        private static void Axpy(float alpha, float* x, float* y, int length)
        {
            TV a = TL.Create(alpha);
            int k = 0;
            for (; k + TL.Count <= length; k += TL.Count)
            {
                TL.Store(TL.MultiplyAdd(a, TL.Load(ref *x, k), TL.Load(ref *y, k)), ref *y, k);
            }

            for (; k < length; k++)
            {
                y[k] = ScalarOps.MultiplyAdd(alpha, x[k], y[k]);
            }
        }
    }
}
