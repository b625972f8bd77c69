using System.Runtime.Intrinsics;
using Xent.Kernels;
using Xent.LinearAlgebra;

namespace Xent.Fused;

/// <summary>
/// The fused projection + cross-entropy: z = h W^T (+ b) is only ever held one tile (252 classes x 128 tokens) at a
/// time. Per token block: a forward sweep over the vocabulary folds each tile into per-token online (max, sum exp),
/// the target logit and the smoothing sum; for gradients, a second sweep takes each tile from the cache (or
/// recomputes it), turns it into the logits gradient G and accumulates dW_tile (+)= G h_block and
/// dh_block^T += W_tile^T G.
/// </summary>
/// <remarks>
/// The vocabulary is split into a fixed number of groups (a function of V only). Groups are the parallel tasks:
/// a group owns its rows of dW and dBias, keeps its own partial softmax state and its own partial dh, and the
/// partials are merged in group order. So the result is bitwise the same for any thread count.
/// </remarks>
internal static unsafe class FusedKernel
{
    /// <summary>Tokens per block: a multiple of every Nr (32, 16, 8, 4).</summary>
    public const int TokenBlock = 128;

    /// <summary>Classes per tile: a multiple of every Mr (6, 4), so edge strips stay inside the tile buffer.</summary>
    public const int VocabBlock = 252;

    /// <summary>
    /// Room for the other per-call buffers within the budget of the cache plus this: the cache shrinks when D makes
    /// them larger (with the default 32 MiB cache, all buffers together stay within 52 MiB up to D of about 2,000).
    /// </summary>
    public const long OtherBytes = 20L << 20;

    // Tests shrink the cache to exercise the recomputing path; AsyncLocal keeps that out of tests running beside them.
    private static readonly AsyncLocal<long?> CacheOverride = new();

    private const int MaxGroups = 16;
    private const int RowsPerGroup = 512;
    private const int GroupAlign = 12;

    public static double Run(FusedProblem p)
    {
        var width = Simd.Width;
        var shape = KernelShape.For(width);
        return width switch
        {
            VectorWidth.V512 => new Runner<Vector512Ops, Vector512<float>>(p, shape).Run(),
            VectorWidth.V256 => new Runner<Vector256Ops, Vector256<float>>(p, shape).Run(),
            VectorWidth.V128 => new Runner<Vector128Ops, Vector128<float>>(p, shape).Run(),
            _ => new Runner<ScalarOps, float>(p, shape).Run(),
        };
    }

    /// <summary>Caps the logits cache for the calling async flow until disposed (tests).</summary>
    public static CacheScope OverrideCache(long bytes) => new(bytes);

    /// <summary>Group g's first class: V split evenly, boundaries on multiples of 12.</summary>
    public static int GroupStart(int v, int groups, int g)
    {
        if (g >= groups)
        {
            return v;
        }

        long s = (long)v * g / groups / GroupAlign * GroupAlign;
        return (int)s;
    }

    public static int GroupCount(int v) => Math.Clamp((v + RowsPerGroup - 1) / RowsPerGroup, 1, MaxGroups);

    /// <summary>Restores the previous cache budget on dispose.</summary>
    internal readonly struct CacheScope : IDisposable
    {
        private readonly long? previous;

        public CacheScope(long bytes)
        {
            previous = CacheOverride.Value;
            CacheOverride.Value = bytes;
        }

        public void Dispose() => CacheOverride.Value = previous;
    }

    private sealed class Runner<TL, TV>
        where TL : struct, IVectorOps<TV>
        where TV : struct
    {
        private const int TB = TokenBlock;
        private readonly FusedProblem p;
        private readonly KernelShape shape;
        private readonly int groups;
        private readonly ParallelOptions parallel;

        // Shared per-call buffers (sizes independent of V except through nothing; of N only through nothing).
        private float* hT;       // h block transposed, packed in Nr-column strips: [D, TB]
        private float* hN;       // h block packed in Nr-column strips along D: [TB, D]
        private float* states;   // per group: max [TB], sum exp [TB], smoothing sum [TB]
        private float* zTarget;  // [TB] target logit (after bias and cap)
        private float* lse;      // [TB]
        private float* coefP;    // [TB] multiplier of p in dL/dz
        private float* coefS;    // [TB] a e / V
        private float* coefY;    // [TB] a (1 - e) w[y]
        private float* mask;     // [TB] all-ones bits for kept rows
        private float* dHidden;  // per group: partial dh, transposed [D, TB]
        private float* dHiddenRows; // per group, filtering only: partial dh [TB, D] of the entry-by-entry updates
        private float* tileMax;  // per group and tile: each token's largest z in the tile [subBlocks, TB] (filtering only)
        private int subBlocks;   // tiles per group, at most
        private float* cache;    // z tiles of the current token block kept for the backward: [groups, cachedPerGroup, VB, TB]
        private int cachedPerGroup;

        // dW still holds the caller's values and is to be overwritten: the first token block that runs the backward
        // writes its products with beta = 0 (and clears the rows it skips), which saves a pass over all of dW.
        private bool freshWeight;

        private int t0;
        private int tbn;
        private int tbnPad;

        public Runner(FusedProblem p, KernelShape shape)
        {
            this.p = p;
            this.shape = shape;
            groups = GroupCount(p.V);
            parallel = new ParallelOptions { MaxDegreeOfParallelism = p.MaxDegreeOfParallelism };
        }

        public double Run()
        {
            int n = p.N, d = p.D, v = p.V;
            double wSum = 0, keptWeight = 0;
            int kept = 0;
            for (int c = 0; c < v; c++)
            {
                wSum += p.ClassWeights == null ? 1 : p.ClassWeights[c];
            }

            for (int t = 0; t < n; t++)
            {
                int y = p.Targets[t];
                if (y != p.IgnoreIndex)
                {
                    kept++;
                    keptWeight += p.ClassWeights == null ? 1 : p.ClassWeights[y];
                }
            }

            freshWeight = p.Backward && !p.Accumulate;
            if (freshWeight)
            {
                ForGroups(ZeroGroupBias);
                if (n > 0)
                {
                    new Span<float>(p.DHidden, checked(n * d)).Clear();
                }
            }

            double main = 0, zsum = 0;
            if (n > 0)
            {
                nint dPad = MatMul.RoundUp(d, shape.Nr);
                subBlocks = ((p.V / groups) + GroupAlign + VocabBlock - 1) / VocabBlock + 1;
                bool keepMax = p.Backward && p.FilterThreshold > 0;
                const long tileFloats = (long)VocabBlock * TB;
                long partials = p.Backward ? (long)groups * TB * d : 0;
                long floats = ((long)d * TB) + (TB * dPad) + (groups * 3L * TB) + (6L * TB) + partials
                    + (keepMax ? partials + ((long)groups * subBlocks * TB) : 0);

                // The cache takes what is left of the extra-memory budget after the other buffers (which grow with D).
                long cacheBudget = CacheOverride.Value ?? p.CacheBytes;
                long budget = Math.Min(cacheBudget, Math.Max(0, cacheBudget + OtherBytes - (floats * sizeof(float))));
                cachedPerGroup = p.Backward ? (int)Math.Min(subBlocks, budget / sizeof(float) / tileFloats / groups) : 0;
                floats += (long)groups * cachedPerGroup * tileFloats;
                var scratch = ScratchPool.Rent(floats);
                try
                {
                    float* block = scratch.Pointer;
                    hT = block;
                    hN = hT + ((nint)d * TB);
                    states = hN + (TB * dPad);
                    zTarget = states + (groups * 3 * TB);
                    lse = zTarget + TB;
                    coefP = lse + TB;
                    coefS = coefP + TB;
                    coefY = coefS + TB;
                    mask = coefY + TB;
                    dHidden = mask + TB;
                    dHiddenRows = keepMax ? dHidden + partials : null;
                    tileMax = keepMax ? dHiddenRows + partials : null;
                    cache = dHidden + partials + (keepMax ? partials + ((long)groups * subBlocks * TB) : 0);
                    for (t0 = 0; t0 < n; t0 += TB)
                    {
                        tbn = Math.Min(TB, n - t0);
                        tbnPad = MatMul.RoundUp(tbn, shape.Nr);
                        Packing.PackB(true, p.Hidden + ((nint)t0 * d), d, 0, d, 0, tbn, shape.Nr, hT);
                        ForGroups(ForwardGroup);
                        bool anyKept = MergeBlock(wSum, ref main, ref zsum);
                        if (p.Backward && anyKept)
                        {
                            Coefficients(wSum, keptWeight, kept);
                            Packing.PackB(false, p.Hidden + ((nint)t0 * d), d, 0, tbn, 0, d, shape.Nr, hN);
                            ForGroups(BackwardGroup);
                            ReduceHidden();
                            freshWeight = false;
                        }
                    }
                }
                finally
                {
                    ScratchPool.Return(scratch, cacheBudget + OtherBytes);
                }
            }

            if (freshWeight)
            {
                // No token block ran the backward (no tokens, or every target ignored): dW is all zeros.
                ForGroups(ZeroGroupWeight);
            }

            return p.Reduction switch
            {
                Reduction.Mean => kept == 0 ? double.NaN : (main / keptWeight) + (p.ZLoss > 0 ? zsum / kept : 0),
                _ => main + zsum,
            };
        }

        private void ForGroups(Action<int> body)
        {
            if (groups == 1 || p.MaxDegreeOfParallelism == 1)
            {
                for (int g = 0; g < groups; g++)
                {
                    body(g);
                }
            }
            else
            {
                Parallel.For(0, groups, parallel, body);
            }
        }

        private void ZeroGroupBias(int g)
        {
            int v0 = GroupStart(p.V, groups, g), v1 = GroupStart(p.V, groups, g + 1);
            if (p.DBias != null)
            {
                new Span<float>(p.DBias + v0, v1 - v0).Clear();
            }
        }

        private void ZeroGroupWeight(int g) => ClearWeightRows(GroupStart(p.V, groups, g), GroupStart(p.V, groups, g + 1));

        private void ClearWeightRows(int c0, int c1)
        {
            for (int c = c0; c < c1; c++)
            {
                new Span<float>(p.DWeight + ((nint)c * p.D), p.D).Clear();
            }
        }

        /// <summary>The cache slot of group g's tile at class c0 (v0 = the group's first class), or null if not cached.</summary>
        private float* CachedTile(int g, int v0, int c0)
        {
            int sb = (c0 - v0) / VocabBlock;
            return sb < cachedPerGroup ? cache + ((((long)g * cachedPerGroup) + sb) * VocabBlock * TB) : null;
        }

        /// <summary>The logits tile of classes [v0, v0 + vb) x the block's tokens, bias not yet added.</summary>
        private void LogitsTile(int v0, int vb, float* tile)
        {
            int d = p.D;
            MatMul.Block(shape, vb, tbnPad, d, p.Weight + ((nint)v0 * d), d, 1, false, hT, shape.Nr, (nint)d * shape.Nr, true, tile, TB, 0);
        }

        private void ForwardGroup(int g)
        {
            int v0 = GroupStart(p.V, groups, g), v1 = GroupStart(p.V, groups, g + 1);
            float* m = states + (g * 3 * TB), s = m + TB, sm = s + TB;
            for (int t = 0; t < tbnPad; t++)
            {
                m[t] = float.NegativeInfinity;
                s[t] = 0;
                sm[t] = 0;
            }

            float* work = Workspace.Current.Get(2, (long)VocabBlock * TB);
            for (int c0 = v0; c0 < v1; c0 += VocabBlock)
            {
                int vb = Math.Min(VocabBlock, v1 - c0);
                float* tile = CachedTile(g, v0, c0);
                tile = tile == null ? work : tile;
                LogitsTile(c0, vb, tile);
                float* tMax = tileMax == null ? null : tileMax + ((((long)g * subBlocks) + ((c0 - v0) / VocabBlock)) * TB);
                TileEpilogues.Forward<TL, TV>(tile, vb, tbnPad, Offset(p.Bias, c0), Offset(p.ClassWeights, c0),
                    p.LabelSmoothing > 0, p.SoftCap, m, s, sm, tMax);
                for (int t = 0; t < tbn; t++)
                {
                    int y = p.Targets[t0 + t];
                    if (y != p.IgnoreIndex && (uint)(y - c0) < (uint)vb)
                    {
                        zTarget[t] = tile[((y - c0) * TB) + t];
                    }
                }
            }
        }

        /// <summary>Merges the groups' states in group order into lse and row losses; returns whether a row is kept.</summary>
        private bool MergeBlock(double wSum, ref double main, ref double zsum)
        {
            bool anyKept = false;
            double e = p.LabelSmoothing;
            for (int t = 0; t < tbn; t++)
            {
                float mx = float.NegativeInfinity;
                for (int g = 0; g < groups; g++)
                {
                    float mg = states[(g * 3 * TB) + t];
                    mx = mg > mx || float.IsNaN(mg) ? mg : mx;
                }

                double reference = float.IsNegativeInfinity(mx) ? 0 : mx;
                double sum = 0, smooth = 0;
                for (int g = 0; g < groups; g++)
                {
                    float* st = states + (g * 3 * TB);
                    sum += st[TB + t] * Math.Exp(st[t] - reference);
                    smooth += st[(2 * TB) + t];
                }

                // Every logit -inf: NaN, as the reference (and PyTorch).
                double l = float.IsNegativeInfinity(mx) ? double.NaN : reference + Math.Log(sum);
                lse[t] = (float)l;
                if (p.LogSumExp != null)
                {
                    p.LogSumExp[t0 + t] = (float)l;
                }

                int y = p.Targets[t0 + t];
                double r = 0;
                if (y != p.IgnoreIndex)
                {
                    anyKept = true;
                    double wy = p.ClassWeights == null ? 1 : p.ClassWeights[y];
                    double rm = (1 - e) * wy * (l - zTarget[t]);
                    if (e > 0)
                    {
                        rm += e / p.V * ((wSum * l) - smooth);
                    }

                    double rz = p.ZLoss > 0 ? p.ZLoss * l * l : 0;
                    main += rm;
                    zsum += rz;
                    r = rm + rz;
                }

                if (p.RowLosses != null)
                {
                    p.RowLosses[t0 + t] = (float)r;
                }
            }

            return anyKept;
        }

        private void Coefficients(double wSum, double keptWeight, int kept)
        {
            double e = p.LabelSmoothing;
            for (int t = 0; t < TB; t++)
            {
                int y = t < tbn ? p.Targets[t0 + t] : p.IgnoreIndex;
                if (y == p.IgnoreIndex)
                {
                    coefP[t] = coefS[t] = coefY[t] = mask[t] = 0;
                    lse[t] = 0;
                    continue;
                }

                double a, b;
                switch (p.Reduction)
                {
                    case Reduction.Mean:
                        a = p.Upstream / keptWeight;
                        b = p.Upstream / kept;
                        break;
                    case Reduction.Sum:
                        a = b = p.Upstream;
                        break;
                    default:
                        a = b = p.RowUpstream == null ? 1 : p.RowUpstream[t0 + t];
                        break;
                }

                double wy = p.ClassWeights == null ? 1 : p.ClassWeights[y];
                double l = lse[t];
                coefY[t] = (float)(a * (1 - e) * wy);
                coefS[t] = (float)(a * e / p.V);
                coefP[t] = (float)((a * (1 - e) * wy) + (a * e / p.V * wSum) + (p.ZLoss > 0 ? b * 2 * p.ZLoss * l : 0));
                mask[t] = BitConverter.Int32BitsToSingle(-1);
            }
        }

        private void BackwardGroup(int g)
        {
            int d = p.D, mr = shape.Mr;
            int v0 = GroupStart(p.V, groups, g), v1 = GroupStart(p.V, groups, g + 1);
            float* dh = dHidden + ((nint)g * TB * d);
            new Span<float>(dh, TB * d).Clear();
            float* dhRows = dHiddenRows == null ? null : dHiddenRows + ((nint)g * TB * d);
            if (dhRows != null)
            {
                new Span<float>(dhRows, tbn * d).Clear();
            }

            var ws = Workspace.Current;
            float* work = ws.Get(2, (long)VocabBlock * TB);
            float* rowInfo = ws.Get(3, VocabBlock * 2);
            byte* active = (byte*)rowInfo;
            bool filter = p.FilterThreshold > 0;
            for (int c0 = v0; c0 < v1; c0 += VocabBlock)
            {
                int vb = Math.Min(VocabBlock, v1 - c0);
                if (filter && TileBelowThreshold(g, v0, c0, vb))
                {
                    if (freshWeight)
                    {
                        ClearWeightRows(c0, c0 + vb);
                    }

                    SkippedTileTargets(c0, vb, dhRows);
                    continue;
                }

                // A cached tile already holds z (bias added, cap applied): no recomputation.
                float* tile = CachedTile(g, v0, c0);
                bool holdsZ = tile != null;
                if (!holdsZ)
                {
                    tile = work;
                    LogitsTile(c0, vb, tile);
                }

                new Span<byte>(active, vb).Fill(filter ? (byte)0 : (byte)1);
                TileEpilogues.Backward<TL, TV>(tile, vb, tbnPad, holdsZ ? null : Offset(p.Bias, c0), Offset(p.ClassWeights, c0), p.SoftCap,
                    holdsZ, p.LabelSmoothing > 0, lse, coefP, coefS, mask, p.FilterThreshold, active);
                TargetEntries(c0, vb, tile, active);
                if (p.DBias != null)
                {
                    TileEpilogues.AddRowSums<TL, TV>(tile, vb, tbnPad, p.DBias + c0);
                }

                // Strip modes (Mr rows each): 0 skip (every |G| below the threshold), 1 dense products, 2 sparse
                // rank-one updates (few entries at or above the threshold). Threshold 0: every strip dense.
                byte* mode = active + VocabBlock;
                int strips = (vb + mr - 1) / mr;
                for (int st = 0; st < strips; st++)
                {
                    int r0 = st * mr, r1 = Math.Min(vb, r0 + mr);
                    mode[st] = !filter ? (byte)1 : !StripActive(active, r0, r1) ? (byte)0 : StripMode(tile, r0, r1);
                }

                for (int st = 0; st < strips;)
                {
                    int r0 = st * mr;
                    if (mode[st] != 1 && freshWeight)
                    {
                        ClearWeightRows(c0 + r0, c0 + Math.Min(vb, r0 + mr));
                    }

                    if (mode[st] == 0)
                    {
                        st++;
                        continue;
                    }

                    if (mode[st] == 2)
                    {
                        SparseStrip(c0, r0, Math.Min(vb, r0 + mr), tile, dhRows);
                        st++;
                        continue;
                    }

                    int end = st + 1;
                    while (end < strips && mode[end] == 1)
                    {
                        end++;
                    }

                    int r1 = Math.Min(vb, end * mr);
                    float* gRows = tile + (r0 * TB);
                    float* wRows = p.Weight + ((nint)(c0 + r0) * d);

                    // dW[rows] (+)= G[rows, tokens] h[tokens, D]
                    MatMul.Block(shape, r1 - r0, d, tbn, gRows, TB, 1, true, hN, shape.Nr, (nint)tbn * shape.Nr, true,
                        p.DWeight + ((nint)(c0 + r0) * d), d, freshWeight ? 0 : 1);

                    // dh^T[D, tokens] += W[rows, D]^T G[rows, tokens]: transposed, G's token rows are the product's
                    // contiguous B strips and W is read in place; the other way round every tile of W (from memory,
                    // the forward read it long ago) was copied into packed strips first (dh ran at 60% of the
                    // kernel's speed, now 95%).
                    MatMul.Block(shape, d, tbnPad, r1 - r0, wRows, 1, d, false, gRows, TB, 0, false, dh, TB, 1);
                    st = end;
                }
            }
        }

        /// <summary>
        /// Whether every |dL/dz| of a tile, its target entries aside, is provably below the threshold without
        /// computing it (Cut Cross-Entropy's block skip): no smoothing constant, and for every kept token
        /// p = exp(z - lse) &lt;= exp(tile max - lse), so |g| &lt;= that bound * coefP (the soft cap's factor is &lt;= 1).
        /// </summary>
        private bool TileBelowThreshold(int g, int v0, int c0, int vb)
        {
            if (p.LabelSmoothing > 0)
            {
                return false;
            }

            float* tMax = tileMax + ((((long)g * subBlocks) + ((c0 - v0) / VocabBlock)) * TB);
            for (int t = 0; t < tbn; t++)
            {
                if (BitConverter.SingleToInt32Bits(mask[t]) == 0)
                {
                    continue;
                }

                // 1.001: margin for the rounding of exp and of the stored values.
                double bound = Math.Exp((double)tMax[t] - lse[t]) * Math.Abs(coefP[t]) * 1.001;
                if (!(bound < p.FilterThreshold))
                {
                    return false;
                }
            }

            return true;
        }

        // Dense products cost about as much per strip as 1/8 of its entries done one by one (axpy runs near load/store
        // speed, the micro-kernel near FMA peak), so sparse wins below that.
        private byte StripMode(float* tile, int r0, int r1)
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

            return count == 0 ? (byte)0 : count * 8 < (r1 - r0) * tbn ? (byte)2 : (byte)1;
        }

        // Entry by entry: dW[c] += g h[t] and dh[t] += g W[c] for every |g| at or above the threshold, in (c, t) order.
        private void SparseStrip(int c0, int r0, int r1, float* tile, float* dhRows)
        {
            int d = p.D;
            float thr = p.FilterThreshold;
            for (int r = r0; r < r1; r++)
            {
                float* row = tile + (r * TB);
                float* wRow = p.Weight + ((nint)(c0 + r) * d);
                float* dwRow = p.DWeight + ((nint)(c0 + r) * d);
                for (int t = 0; t < tbn; t++)
                {
                    float g = row[t];
                    if (MathF.Abs(g) < thr)
                    {
                        continue;
                    }

                    Axpy(g, p.Hidden + ((nint)(t0 + t) * d), dwRow, d);
                    Axpy(g, wRow, dhRows + ((nint)t * d), d);
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
                y[k] = MathF.FusedMultiplyAdd(alpha, x[k], y[k]);
            }
        }

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

        // p - 1 at the target, in float32 with one rounding (fma), before the cap's chain rule.
        private float TargetGradient(int t, int y)
        {
            float z = zTarget[t];
            float pr = MathF.Exp(z - lse[t]);
            float wy = p.ClassWeights == null ? 1 : p.ClassWeights[y];
            float gt = MathF.FusedMultiplyAdd(pr, coefP[t], -coefY[t]);
            if (p.LabelSmoothing > 0)
            {
                gt -= coefS[t] * wy;
            }

            if (p.SoftCap > 0)
            {
                float u = z / p.SoftCap;
                gt *= 1 - (u * u);
            }

            return gt;
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
                    Axpy(gt, p.Hidden + ((nint)(t0 + t) * d), p.DWeight + ((nint)y * d), d);
                    Axpy(gt, p.Weight + ((nint)y * d), dhRows + ((nint)t * d), d);
                }
            }
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

        /// <summary>dh rows of the block = what was there (when accumulating) + the groups' partials in group order.</summary>
        private void ReduceHidden()
        {
            int d = p.D, n = tbn;
            float* dst = p.DHidden + ((nint)t0 * d);
            int chunks = (int)Math.Min(8, Math.Max(1, (long)n * d / 4096));
            ParallelHelpers.For(chunks, p.MaxDegreeOfParallelism, c =>
            {
                // One hidden unit at a time: the partials are [D, TB], contiguous over tokens; dh is [tokens, D].
                float* column = stackalloc float[TB];
                var sum = new Span<float>(column, n);
                int k0 = (int)((long)d * c / chunks), k1 = (int)((long)d * (c + 1) / chunks);
                for (int k = k0; k < k1; k++)
                {
                    for (int t = 0; t < n; t++)
                    {
                        column[t] = dst[((nint)t * d) + k];
                    }

                    for (int g = 0; g < groups; g++)
                    {
                        System.Numerics.Tensors.TensorPrimitives.Add(sum, new ReadOnlySpan<float>(dHidden + ((long)g * TB * d) + ((long)k * TB), n), sum);
                    }

                    for (int t = 0; t < n; t++)
                    {
                        dst[((nint)t * d) + k] = column[t];
                    }
                }

                // Then the entry-by-entry updates of the filtered path, kept row-major (a transposed axpy would
                // touch one cache line per hidden unit).
                if (dHiddenRows != null)
                {
                    for (int t = 0; t < n; t++)
                    {
                        var row = new Span<float>(dst + ((nint)t * d) + k0, k1 - k0);
                        for (int g = 0; g < groups; g++)
                        {
                            System.Numerics.Tensors.TensorPrimitives.Add(row, new ReadOnlySpan<float>(dHiddenRows + ((long)g * TB * d) + ((long)t * d) + k0, k1 - k0), row);
                        }
                    }
                }
            });
        }

        private static float* Offset(float* x, int c) => x == null ? null : x + c;
    }
}
