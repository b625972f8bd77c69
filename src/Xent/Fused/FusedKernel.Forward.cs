using Xent.Kernels;
using Xent.LinearAlgebra;

namespace Xent.Fused;

/// <summary>The forward sweep: logits tiles folded into per-group softmax states, then merged into row losses.</summary>
internal static unsafe partial class FusedKernel
{
    private sealed partial class Runner<TL, TV>
    {
        /// <summary>The cache slot of group g's tile at class c0 (v0 = the group's first class), or null if not cached.</summary>
        private float* CachedTile(int g, int v0, int c0)
        {
            int sb = (c0 - v0) / VocabBlock;
            return sb < cachedPerGroup ? cache + ((((long)g * cachedPerGroup) + sb) * TileFloats) : null;
        }

        /// <summary>Where group g keeps each token's largest z of its tile at class c0 (filtering only).</summary>
        private float* TileMax(int g, int v0, int c0) => tileMax + ((((long)g * subBlocks) + ((c0 - v0) / VocabBlock)) * TB);

        /// <summary>The logits tile of classes [c0, c0 + vb) x the block's tokens, bias not yet added.</summary>
        /// <remarks>
        /// <paramref name="end"/>: the end of the group's classes, whose next tile's W rows (a float W) the product
        /// prefetches (0: none).
        /// </remarks>
        private void LogitsTile(int c0, int vb, float* tile, int end = 0)
        {
            int d = p.D;
            float* w = WeightRows(c0, vb);
            if (!MatMul.BlockedPanels)
            {
                MatMul.Panels(tileShape, vb, tbnPad, d, w, d, 1, hT, (nint)d * tileShape.Nr, tile, TB, 0, kPart: ForwardPart);
                return;
            }

            int next = Math.Min(VocabBlock, end - c0 - vb);
            float* nextW = next > 0 && p.WeightBFloat16 == null ? p.Weight + ((nint)(c0 + vb) * d) : null;
            MatMul.PanelsBlocked(tileShape, vb, tbnPad, d, w, d, hT, (nint)d * tileShape.Nr, tile, TB, 0, nextW, next, ForwardPart);
        }

        private void ForwardGroup(int g)
        {
            int v0 = GroupStart(g), v1 = GroupStart(g + 1);
            float* m = states + (g * StateRows * TB), s = m + TB, sm = s + TB, q = sm + TB;
            for (int t = 0; t < tbnPad; t++)
            {
                m[t] = float.NegativeInfinity;
                s[t] = 0;
                sm[t] = 0;
                q[t] = 0;
            }

            float* work = Workspace.Current.Get(WorkspaceSlot.FusedTile, TileFloats);
            for (int c0 = v0; c0 < v1; c0 += VocabBlock)
            {
                int vb = Math.Min(VocabBlock, v1 - c0);
                float* tile = CachedTile(g, v0, c0);
                tile = tile == null ? work : tile;
                LogitsTile(c0, vb, tile, v1);
                float* tMax = tileMax == null ? null : TileMax(g, v0, c0);
                TileEpilogues.Forward<TL, TV>(tile, vb, tbnPad, Offset(p.Bias, c0), Offset(p.ClassWeights, c0),
                    p.LabelSmoothing > 0, p.SoftCap, m, s, sm, EntropySums ? q : null, tMax);
                KeepTargetLogits(c0, vb, tile);
            }
        }

        /// <summary>zTarget[t] = z[t, y] for the tokens whose target falls in the tile.</summary>
        private void KeepTargetLogits(int c0, int vb, float* tile)
        {
            for (int t = 0; t < tbn; t++)
            {
                int y = p.Targets[t0 + t];
                if (y != p.IgnoreIndex && (uint)(y - c0) < (uint)vb)
                {
                    zTarget[t] = tile[((y - c0) * TB) + t];
                }
            }
        }

        /// <summary>Merges the groups' states in group order into lse and row losses; returns whether a row is kept.</summary>
        private bool MergeBlock()
        {
            bool anyKept = false;
            for (int t = 0; t < tbn; t++)
            {
                double smooth;
                LogSumExpParts parts = MergeGroups(t, out smooth, out double entropy);
                double l = parts.Value;
                rowMax[t] = parts.Max;
                rowLogSum[t] = parts.LogSum;
                rowMeanLogit[t] = l - entropy;
                lse[t] = (float)l;
                if (p.LogSumExp != null)
                {
                    p.LogSumExp[t0 + t] = (float)l;
                }

                if (p.Entropy != null)
                {
                    p.Entropy[t0 + t] = (float)entropy;
                }

                var r = default(RowLoss);
                int y = p.Targets[t0 + t];
                if (y != p.IgnoreIndex)
                {
                    anyKept = true;
                    r = RowLoss.ClassIndex(constants, TargetWeight(y), parts, zTarget[t], smooth);
                    rowMain[t] = r.Main;
                    rowZTerm[t] = r.ZTerm;
                }

                if (p.RowLosses != null)
                {
                    p.RowLosses[t0 + t] = (float)r.Total;
                }
            }

            return anyKept;
        }

        /// <summary>
        /// Token t's lse over every group (NaN when every logit is -inf), its smoothing sum and, when asked for, its
        /// softmax entropy H = log S - Q / S with S = sum_c exp(z[c] - R), Q = sum_c exp(z[c] - R) (z[c] - R) at one
        /// reference R: differences from the max, so that large logits do not cancel lse against sum p z.
        /// </summary>
        private LogSumExpParts MergeGroups(int t, out double smooth, out double entropy)
        {
            float mx = float.NegativeInfinity;
            for (int g = 0; g < groups; g++)
            {
                float mg = states[(g * StateRows * TB) + t];
                mx = mg > mx || float.IsNaN(mg) ? mg : mx;
            }

            double reference = float.IsNegativeInfinity(mx) ? 0 : mx;
            double sum = 0, q = 0;
            smooth = 0;
            for (int g = 0; g < groups; g++)
            {
                float* st = states + (g * StateRows * TB);
                // A group's sum is kept less its max's term, 1, wherever that max is finite (TileEpilogues.Forward).
                double scale = Math.Exp(st[t] - reference), groupSum = st[TB + t] + (float.IsNegativeInfinity(st[t]) ? 0.0 : 1.0);
                sum += groupSum * scale;
                smooth += st[(2 * TB) + t];
                if (EntropySums && !float.IsNegativeInfinity(st[t]))
                {
                    // The group's sum of exp(z - m_g) (z - m_g), moved to the reference R.
                    q += scale * (st[(3 * TB) + t] + ((st[t] - reference) * groupSum));
                }
            }

            entropy = Math.Log(sum) - (q / sum);

            // Every logit -inf: Value NaN, as the reference (and PyTorch).
            return new LogSumExpParts(mx, Math.Log(sum));
        }
    }
}
