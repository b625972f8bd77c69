using System.Runtime.CompilerServices;
using Xent.Kernels;
using Xent.LinearAlgebra;

namespace Xent.Fused;

/// <summary>
/// The backward sweep: each tile becomes the logits gradient G (the row formulas of <see cref="ClassIndexRowGradient"/>),
/// then dW[tile rows] (+)= G h_block and dh_block^T += W[tile rows]^T G, strip by strip.
/// </summary>
internal static unsafe partial class FusedKernel
{
    private sealed partial class Runner<TL, TV>
    {
        /// <summary>Token t's gradient terms: the call's constants, its scales a and b, w[y], lse and the caller's dL/dlse.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private ClassIndexRowGradient RowGradient(int t, int y)
        {
            (double a, double b) = p.Reduction != Reduction.None ? callScales : kept.Scales(p.Reduction, p.RowUpstream == null ? 1 : p.RowUpstream[t0 + t]);
            double lseUpstream = p.LogSumExpUpstream == null ? 0 : p.LogSumExpUpstream[t0 + t];
            return new ClassIndexRowGradient(constants, a, b, TargetWeight(y), RowLogSumExp(t), lseUpstream);
        }

        /// <summary>Token t's lse, in its parts (kept by <see cref="MergeBlock"/>).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private LogSumExpParts RowLogSumExp(int t) => new(rowMax[t], rowLogSum[t]);

        /// <summary>The block's per-token coefficients K and C1 and the kept mask; ignored tokens get zeros.</summary>
        private void Coefficients()
        {
            wideCoefP = false;
            for (int t = 0; t < TB; t++)
            {
                coefP2[t] = 1f;
                if (t >= tbn || Ignored(t))
                {
                    coefP[t] = coefS[t] = mask[t] = coefH[t] = meanZ[t] = 0;
                    lse[t] = 0;
                    continue;
                }

                var row = RowGradient(t, p.Targets[t0 + t]);
                // The epilogue's p is exp(z - float(lse)): its multipliers carry exp(float(lse) - lse). K beyond
                // float's range (the z-loss term at lse near float.MaxValue) is a float and a power of two applied
                // after p, so that p = 0 gives 0, not inf x 0.
                double correction = RowLogSumExp(t).FloatCorrection;
                var k = WideMultiplier.Of(row.K * correction);
                coefP[t] = k.Value;
                if (k.Scale != 0f)
                {
                    coefP2[t] = k.Scale;
                    wideCoefP = true;
                }

                coefS[t] = (float)row.C1;
                coefH[t] = p.EntropyUpstream == null ? 0 : (float)(-p.EntropyUpstream[t0 + t] * correction);
                meanZ[t] = (float)rowMeanLogit[t];
                mask[t] = BitConverter.Int32BitsToSingle(-1);
            }
        }

        private void BackwardGroup(int g)
        {
            int v0 = GroupStart(g), v1 = GroupStart(g + 1);
            float* dh = dHidden + ((nint)g * TB * p.D);
            new Span<float>(dh, TB * p.D).Clear();
            float* dhRows = dHiddenRows == null ? null : dHiddenRows + ((nint)g * TB * p.D);
            if (dhRows != null)
            {
                new Span<float>(dhRows, tbn * p.D).Clear();
            }

            var ws = Workspace.Current;
            float* work = ws.Get(WorkspaceSlot.FusedTile, TileFloats);
            byte* active = (byte*)ws.Get(WorkspaceSlot.FusedTileRows, VocabBlock * 2);
            var modes = (StripMode*)(active + VocabBlock);
            for (int c0 = v0; c0 < v1; c0 += VocabBlock)
            {
                int vb = Math.Min(VocabBlock, v1 - c0);
                if (Filtering && TileBelowThreshold(TileMax(g, v0, c0)))
                {
                    if (freshWeight)
                    {
                        ClearWeightRows(c0, c0 + vb);
                    }

                    SkippedTileTargets(c0, vb, dhRows);
                    continue;
                }

                float* tile = GradientTile(CachedTile(g, v0, c0), work, c0, vb, active);
                int strips = ChooseStripModes(tile, vb, active, modes);
                // The next cached tile (z, from memory: the cache is larger than L2), asked for during this tile's dh
                // product, so that its epilogue reads L2, not memory.
                float* next = c0 + VocabBlock < v1 ? CachedTile(g, v0, c0 + VocabBlock) : null;
                AddStrips(c0, vb, tile, modes, strips, dh, dhRows, next, next == null ? 0 : Math.Min(VocabBlock, v1 - c0 - VocabBlock) * TB);
            }
        }

        /// <summary>
        /// The tile turned into G (from the cached z, or recomputed into work), its target entries in double, dBias
        /// added; active[r] says whether class row r has an entry at or above the filter threshold.
        /// </summary>
        private float* GradientTile(float* cached, float* work, int c0, int vb, byte* active)
        {
            // A cached tile already holds z (bias added, cap applied): no recomputation.
            bool holdsZ = cached != null;
            float* tile = holdsZ ? cached : work;
            if (!holdsZ)
            {
                LogitsTile(c0, vb, tile);
            }

            new Span<byte>(active, vb).Fill(Filtering ? (byte)0 : (byte)1);
            TileEpilogues.Backward<TL, TV>(tile, vb, tbnPad, holdsZ ? null : Offset(p.Bias, c0), Offset(p.ClassWeights, c0), p.SoftCap,
                holdsZ, p.LabelSmoothing > 0, lse, coefP, coefS, p.EntropyUpstream == null ? null : coefH, meanZ, mask, p.FilterThreshold, active,
                wideCoefP ? coefP2 : null);
            TargetEntries(c0, vb, tile, active);
            if (p.DBias != null)
            {
                // A token lane sums the block's dBias from 0, to be added in token order after its wave.
                float* dBias = deferWeight ? biasPartial + c0 : p.DBias + c0;
                if (deferWeight)
                {
                    new Span<float>(dBias, vb).Clear();
                }

                TileEpilogues.AddRowSums<TL, TV>(tile, vb, tbnPad, dBias);
            }

            return tile;
        }

        /// <summary>Each strip's mode (Mr class rows each); returns the strip count. Threshold 0: every strip dense.</summary>
        private int ChooseStripModes(float* tile, int vb, byte* active, StripMode* modes)
        {
            const int mr = PanelKernels.Mr;
            int strips = (vb + mr - 1) / mr;
            for (int st = 0; st < strips; st++)
            {
                int r0 = st * mr, r1 = Math.Min(vb, r0 + mr);
                modes[st] = !Filtering ? StripMode.Dense : !StripActive(active, r0, r1) ? StripMode.Skip : ChooseStripMode(tile, r0, r1);
            }

            return strips;
        }

        /// <summary>Adds the tile's strips to dW and dh: runs of dense strips as products, sparse ones entry by entry.</summary>
        /// <remarks>The last run of dense strips asks for <paramref name="nextFloats"/> floats at <paramref name="next"/>, read next.</remarks>
        private void AddStrips(int c0, int vb, float* tile, StripMode* modes, int strips, float* dh, float* dhRows, float* next, int nextFloats)
        {
            const int mr = PanelKernels.Mr;
            for (int st = 0; st < strips;)
            {
                int r0 = st * mr;
                if (modes[st] != StripMode.Dense && freshWeight)
                {
                    ClearWeightRows(c0 + r0, c0 + Math.Min(vb, r0 + mr));
                }

                if (modes[st] != StripMode.Dense)
                {
                    if (modes[st] == StripMode.Sparse)
                    {
                        SparseStrip(c0, r0, Math.Min(vb, r0 + mr), tile, dhRows);
                    }

                    st++;
                    continue;
                }

                int end = st + 1;
                while (end < strips && modes[end] == StripMode.Dense)
                {
                    end++;
                }

                bool last = end == strips;
                DenseRows(c0, r0, Math.Min(vb, end * mr), tile, dh, last ? next : null, last ? nextFloats : 0);
                st = end;
            }
        }

        /// <summary>The products of class rows [r0, r1) of the tile.</summary>
        private void DenseRows(int c0, int r0, int r1, float* tile, float* dh, float* next, int nextFloats)
        {
            int d = p.D, rows = r1 - r0, nr = shape.Nr;
            float* gRows = tile + (r0 * TB);
            float* wRows = WeightRows(c0 + r0, rows);
            WeightProduct(c0, r0, r1, tile, freshWeight ? 0 : 1);

            // dh^T[D, tokens] += W[rows, D]^T G[rows, tokens]: transposed, G's token rows (a few KB, packed here) are
            // the product's B micro-panels and W is read in place; the other way round every tile of W (from memory,
            // the forward read it long ago) was copied into packed strips first (dh ran at 60% of the kernel's speed,
            // then 95%). One sum per run of rows (at most one tile, under 256 classes) added to the group's partial.
            // In blocks of StripBlock strips of D, each across the token panels: the W columns and dh rows in use stay
            // in L2 (LossAndGradients 81.5% of the FMA limit against 80.1% all strips per panel: medians of 8 interleaved
            // runs, CPU time, Zen 5, 2 threads, 512 bits; neutral at 256 bits).
            float* gPacked = Workspace.Current.Get(WorkspaceSlot.PanelB, (long)rows * tbnPad);
            Packing.PackB(false, gRows, TB, 0, rows, 0, tbnPad, nr, gPacked);
            MatMul.Panels(shape, d, tbnPad, rows, wRows, 1, d, gPacked, (nint)rows * nr, dh, TB, 1, stripBlock: MatMul.StripBlock,
                ahead: next, aheadFloats: nextFloats);
        }

        /// <summary>
        /// dW[rows] (+)= G[rows, tokens] h[tokens, D] for class rows [r0, r1) of the tile: h's block packed once for all
        /// tiles (hN); dW's rows (from memory) written a 6-row strip at a time. A token lane (.Lanes.cs) writes the
        /// block's sums to its partial instead.
        /// </summary>
        private void WeightProduct(int c0, int r0, int r1, float* tile, float beta)
        {
            int d = p.D;
            // A token lane writes the block's own sums (beta 0) into its partial, which AddPartials adds to dW in token
            // order: C + s as the product would have added it, one rounding either way.
            MatMul.Panels(shape, r1 - r0, d, tbn, tile + (r0 * TB), TB, 1, hN, (nint)tbn * shape.Nr,
                (deferWeight ? weightPartial : p.DWeight) + ((nint)(c0 + r0) * d), d, deferWeight ? 0 : beta, rowStripsOuter: true);
        }

        /// <summary>
        /// Whether every |dL/dz| of a tile, its target entries aside, is provably below the threshold without
        /// computing it (Cut Cross-Entropy's block skip): no smoothing constant, and for every kept token
        /// p = exp(z - lse) &lt;= exp(tile max - lse), so |g| &lt;= that bound * K (the soft cap's factor is &lt;= 1).
        /// </summary>
        private bool TileBelowThreshold(float* tMax)
        {
            if (p.LabelSmoothing > 0)
            {
                return false;
            }

            for (int t = 0; t < tbn; t++)
            {
                if (BitConverter.SingleToInt32Bits(mask[t]) == 0)
                {
                    continue;
                }

                // 1.001: margin for the rounding of exp and of the stored values.
                double bound = Math.Exp((double)tMax[t] - lse[t]) * Math.Abs((double)coefP[t] * coefP2[t]) * 1.001;
                if (!(bound < p.FilterThreshold))
                {
                    return false;
                }
            }

            return true;
        }

        // Dense products cost about as much per strip as 1/8 of its entries done one by one (axpy runs near load/store
        // speed, the micro-kernel near FMA peak), so sparse wins below that.
        private StripMode ChooseStripMode(float* tile, int r0, int r1)
        {
            int count = 0;
            float thr = p.FilterThreshold;
            for (int r = r0; r < r1; r++)
            {
                float* row = tile + (r * TB);
                for (int t = 0; t < tbn; t++)
                {
                    count += MathF.Abs(row[t]) < thr ? 0 : 1;
                }
            }

            return count == 0 ? StripMode.Skip : count * 8 < (r1 - r0) * tbn ? StripMode.Sparse : StripMode.Dense;
        }

        private static bool StripActive(byte* active, int r0, int r1)
        {
            for (int r = r0; r < r1; r++)
            {
                if (active[r] != 0)
                {
                    return true;
                }
            }

            return false;
        }
    }
}
