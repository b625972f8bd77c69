using System.Runtime.CompilerServices;
using Xent.Kernels;
using Xent.LinearAlgebra;

namespace Xent.Fused;

/// <summary>One call: its constants, its buffers, and the loop over token blocks.</summary>
internal static unsafe partial class FusedKernel
{
    private sealed partial class Runner<TL, TV>
        where TL : struct, IVectorOps<TV>
        where TV : struct
    {
        private const int TB = TokenBlock;
        private const long TileFloats = (long)VocabBlock * TB;

        // The calling thread's runner, reused by its next call (Run): a runner and its problem per call were all of a
        // warm call's garbage (576 bytes, every training step). The fields below are the call's, set by Start.
        [ThreadStatic]
        private static Runner<TL, TV>? spareRunner;

        private FusedProblem p;
        private PanelShape shape;        // the backward's products (dW, dh): the 2-vector tile, whose B micro-panels stay in L1
        private PanelShape forwardShape; // the logits tiles: Gemm's tile (4 vectors at 512 bits), run in K parts (ForwardPart)
        private PanelShape tileShape;    // the current block's logits tiles: forwardShape, or shape for a block of one narrow micro-panel
        private int groups;
        private LossConstants constants;
        private KeptRows kept;

        // The tokens' gradient scales (a, b) when they share the call's upstream (Mean or Sum): the same two divisions
        // for every token, done once.
        private (double A, double B) callScales;

        // Most threads for this runner's own parallel calls: the call's, or 1 in a token lane (.Lanes.cs).
        private int threads;

        // Per-call buffers in one ScratchPool block (sizes independent of N and V); the per-token doubles first (in
        // the block, not arrays: a token lane's runner allocates nothing per call).
        private double* rowMax;       // [TB] lse's parts, m and log s (LogSumExpParts), as the row formulas take it
        private double* rowLogSum;    // [TB]
        private double* rowMeanLogit; // [TB] E[z] = sum_c p[c] z[c] in double (entropy gradient only)
        private double* rowMain;      // [TB] kept rows' loss terms, added to the call's sums in token order (SumBlock)
        private double* rowZTerm;     // [TB] their z-loss terms
        private float* hT;       // h block transposed, packed in tileShape's Nr-column micro-panels (tokens): [D, TB]
        private float* hN;       // h block packed in shape's Nr-column micro-panels along D: [TB, D]
        private float* states;   // per group: max [TB], sum exp [TB], smoothing sum [TB], entropy sum [TB]
        private float* zTarget;  // [TB] target logit (after bias and cap)
        private float* lse;      // [TB] lse in float, for the tile epilogues
        private float* coefP;    // [TB] K: the multiplier of p in dL/dz
        private float* coefS;    // [TB] C1 = a e / V: the multiplier of w[c]
        private float* mask;     // [TB] all-ones bits for kept rows
        private float* coefH;    // [TB] -dL/dH: the multiplier of p (z - E[z]) (entropy gradient only)
        private float* meanZ;    // [TB] E[z] in float, for the tile epilogues
        private float* coefP2;   // [TB] 1, or where K is beyond float's range the power of two coefP is multiplied by after p
        private bool wideCoefP;  // whether some token of the block has coefP2 != 1
        private float* dHidden;  // per group: partial dh, transposed [D, TB]
        private float* dHiddenRows; // per group, filtering only: partial dh [TB, D] of the entry-by-entry updates
        private float* tileMax;  // per group and tile: each token's largest z in the tile [subBlocks, TB] (filtering only)
        private int subBlocks;   // tiles per group, at most
        private float* hBlock;   // the token block of a bfloat16 h widened to float [TB, D] (bfloat16 only; .Operands.cs)
        private float* cache;    // z tiles of the current token block kept for the backward: [groups, cachedPerGroup, VB, TB]
        private float* weightPartial; // token lanes: this block's dW [V, D], summed from 0 (.Lanes.cs)
        private float* biasPartial;   // token lanes: this block's dBias [V], summed from 0
        private int cachedPerGroup;

        // dW still holds the caller's values and is to be overwritten: the first token block that runs the backward
        // writes its products with beta = 0 (and clears the rows it skips), which saves a pass over all of dW.
        private bool freshWeight;

        // dh is overwritten, not added to: each token block clears its rows of dh just before its backward adds to them
        // (in a token lane, on the lane's thread), instead of one pass over the whole of dh on the calling thread first.
        private bool clearHidden;

        // The block has a kept row: it ran the backward (when asked for).
        private bool blockKept;

        private int t0;
        private int tbn;
        private int tbnPad;

        private Runner()
        {
        }

        /// <summary>Runs the call on the calling thread's runner; returns the reduced loss (the sum for Reduction.None).</summary>
        public static double Run(in FusedProblem p, PanelShape shape, PanelShape forwardShape, out LossParts parts)
        {
            // A call nested in one of this thread's (none today) would find the spare taken and make its own.
            var runner = spareRunner ?? new Runner<TL, TV>();
            spareRunner = null;
            runner.Start(p, shape, forwardShape);
            try
            {
                return runner.Run(out parts);
            }
            finally
            {
                runner.Clear();
                spareRunner = runner;
            }
        }

        /// <summary>The constructor's part of a call: a cleared runner (new, or after <see cref="Clear"/>) for <paramref name="problem"/>.</summary>
        private void Start(in FusedProblem problem, PanelShape panelShape, PanelShape forwardPanelShape)
        {
            p = problem;
            shape = panelShape;
            forwardShape = forwardPanelShape;
            groups = GroupCount(p.V);
            var weights = p.ClassWeights == null ? default : new ReadOnlySpan<float>(p.ClassWeights, p.V);
            constants = LossConstants.Of(p.LabelSmoothing, p.V, weights, p.ZLoss, p.SoftCap);
            kept = KeptRows.Of(new ReadOnlySpan<int>(p.Targets, p.N), p.IgnoreIndex, weights);
            callScales = kept.Scales(p.Reduction, p.Upstream);
            threads = p.MaxDegreeOfParallelism;
            clearHidden = p.Backward && !p.Accumulate;
        }

        /// <summary>
        /// Every field as a new runner's but the kept token lanes (cleared in turn), so that the spare starts its next
        /// call as a new runner would, with no address of this call's left to read (a field added to the runner is
        /// cleared here too).
        /// </summary>
        private void Clear()
        {
            ClearLanes();
            p = default;
            shape = default;
            forwardShape = tileShape = default;
            groups = threads = subBlocks = cachedPerGroup = t0 = tbn = tbnPad = 0;
            constants = default;
            kept = default;
            callScales = default;
            rowMax = rowLogSum = rowMeanLogit = rowMain = rowZTerm = null;
            hT = hN = states = zTarget = lse = coefP = coefS = mask = coefH = meanZ = coefP2 = null;
            dHidden = dHiddenRows = tileMax = hBlock = cache = weightPartial = biasPartial = blockHidden = weightRows = null;
            clearHidden = wideCoefP = freshWeight = blockKept = deferWeight = false;
            weightBeta = 0;
        }

        private bool Filtering => p.FilterThreshold > 0;

        /// <summary>Whether the forward keeps the entropy sums (entropy out, or its gradient in).</summary>
        private bool EntropySums => p.Entropy != null || p.EntropyUpstream != null;

        /// <summary>Per-token softmax states each group keeps (max, sum exp, smoothing sum, entropy sum).</summary>
        private const int StateRows = 4;

        /// <summary>Runs the call; returns the reduced loss (the sum for Reduction.None).</summary>
        private double Run(out LossParts parts)
        {
            freshWeight = p.Backward && !p.Accumulate;
            if (freshWeight)
            {
                ForGroups(GroupStep.ZeroBias);
            }

            double main = 0, zTerms = 0;
            if (p.N > 0 && !TrySweepLanes(ref main, ref zTerms))
            {
                SweepTokenBlocks(ref main, ref zTerms);
            }

            if (freshWeight)
            {
                // No token block ran the backward (no tokens, or every target ignored): dW is all zeros.
                ForGroups(GroupStep.ZeroWeight);
            }

            double loss = kept.Reduce(p.Reduction, main, zTerms, p.ZLoss > 0);
            parts = new LossParts((float)loss, (float)kept.ReduceCrossEntropy(p.Reduction, main),
                (float)(p.ZLoss > 0 ? kept.ReduceZLoss(p.Reduction, zTerms) : 0));
            return loss;
        }

        private void SweepTokenBlocks(ref double main, ref double zTerms)
        {
            long cacheBudget = CacheOverride.Value ?? p.CacheBytes;
            var scratch = ScratchPool.Rent(PlanBuffers(cacheBudget));
            try
            {
                AssignBuffers(scratch.Pointer);
                for (int start = 0; start < p.N; start += TB)
                {
                    RunBlock(start);
                    SumBlock(ref main, ref zTerms);
                }
            }
            finally
            {
                ScratchPool.Return(scratch, cacheBudget + OtherBytes);
            }
        }

        /// <summary>
        /// The token block at <paramref name="start"/>: forward, row losses and, when one of its rows is kept, the
        /// backward (a token lane sums dW and dBias into its partials, for <see cref="AddPartials"/>).
        /// </summary>
        private void RunBlock(int start)
        {
            t0 = start;
            tbn = Math.Min(TB, p.N - t0);
            // A block that fits one narrow micro-panel (the last of a call, or a short call) would pad the wide tile's
            // tokens to twice its own. tbnPad: whole micro-panels of both tiles (Nr powers of two), padding zero.
            tileShape = tbn > shape.Nr ? forwardShape : shape;
            tbnPad = MatMul.RoundUp(tbn, Math.Max(shape.Nr, tileShape.Nr));
            if (clearHidden)
            {
                new Span<float>(p.DHidden + ((nint)t0 * p.D), checked(tbn * p.D)).Clear();
            }

            float* h = BlockHidden();
            Packing.PackB(true, h, p.D, 0, p.D, 0, tbn, tileShape.Nr, hT);
            ForGroups(GroupStep.Forward);
            blockKept = MergeBlock();
            if (p.Backward && blockKept)
            {
                Coefficients();
                Packing.PackB(false, h, p.D, 0, tbn, 0, p.D, shape.Nr, hN);
                ForGroups(GroupStep.Backward);
                ReduceHidden();
                freshWeight = false;
            }
        }

        /// <summary>Adds the block's kept rows' loss terms to the call's sums, in token order.</summary>
        private void SumBlock(ref double main, ref double zTerms)
        {
            for (int t = 0; t < tbn; t++)
            {
                if (!Ignored(t))
                {
                    main += rowMain[t];
                    zTerms += rowZTerm[t];
                }
            }
        }

        private nint PaddedD => MatMul.RoundUp(p.D, shape.Nr);

        /// <summary>Per group: its partial dh (backward only).</summary>
        private long Partials => p.Backward ? (long)groups * TB * p.D : 0;

        /// <summary>The filtered backward's extra buffers: row-major partial dh and the tile maxima.</summary>
        private long FilterFloats => p.Backward && Filtering ? Partials + ((long)groups * subBlocks * TB) : 0;

        /// <summary>Floats of the call's buffer; sets how many tiles each group caches, within the budget.</summary>
        private long PlanBuffers(long cacheBudget)
        {
            subBlocks = ((p.V / groups) + GroupAlign + VocabBlock - 1) / VocabBlock + 1;
            long floats = RowFloats + ((long)p.D * TB) + (TB * PaddedD) + (groups * (long)StateRows * TB) + (8L * TB) + Partials + FilterFloats + WidenedFloats
                + LanePartialFloats;

            // The cache takes what is left of the extra-memory budget after the other buffers (which grow with D).
            long budget = Math.Min(cacheBudget, Math.Max(0, cacheBudget + OtherBytes - (floats * sizeof(float))));
            cachedPerGroup = p.Backward ? (int)Math.Min(subBlocks, budget / sizeof(float) / TileFloats / groups) : 0;
            return floats + ((long)groups * cachedPerGroup * TileFloats);
        }

        /// <summary>The four per-token double rows, in floats (a multiple of 16: hT stays 64-byte aligned).</summary>
        private const int RowFloats = 5 * TB * (sizeof(double) / sizeof(float));

        private void AssignBuffers(float* block)
        {
            rowMax = (double*)block;
            rowLogSum = rowMax + TB;
            rowMeanLogit = rowLogSum + TB;
            rowMain = rowMeanLogit + TB;
            rowZTerm = rowMain + TB;
            hT = block + RowFloats;
            hN = hT + ((nint)p.D * TB);
            states = hN + (TB * PaddedD);
            zTarget = states + (groups * StateRows * TB);
            lse = zTarget + TB;
            coefP = lse + TB;
            coefS = coefP + TB;
            mask = coefS + TB;
            coefH = mask + TB;
            meanZ = coefH + TB;
            coefP2 = meanZ + TB;
            dHidden = coefP2 + TB;
            bool filter = FilterFloats > 0;
            dHiddenRows = filter ? dHidden + Partials : null;
            tileMax = filter ? dHiddenRows + Partials : null;
            AssignWidened(dHidden + Partials + FilterFloats);
            cache = dHidden + Partials + FilterFloats + WidenedFloats + LanePartialFloats;
            weightPartial = deferWeight ? dHidden + Partials + FilterFloats + WidenedFloats : null;
            biasPartial = deferWeight ? weightPartial + LaneWeightFloats : null;
        }

        /// <summary>A token lane's dW partial [V, D] in floats, whole 64-byte lines.</summary>
        private long LaneWeightFloats => deferWeight ? ((long)p.V * p.D + 15) / 16 * 16 : 0;

        /// <summary>A token lane's dW and dBias partials in floats.</summary>
        private long LanePartialFloats => deferWeight ? LaneWeightFloats + ((p.V + 15) / 16 * 16) : 0;

        /// <summary>Runs body(g) for every vocabulary group.</summary>
        private void ForGroups(GroupStep step) => ParallelWork.For(groups, threads, new GroupItems(this, step));

        private int GroupStart(int g) => FusedKernel.GroupStart(p.V, groups, g);

        private void ZeroGroupBias(int g)
        {
            if (p.DBias != null)
            {
                new Span<float>(p.DBias + GroupStart(g), GroupStart(g + 1) - GroupStart(g)).Clear();
            }
        }

        private void ZeroGroupWeight(int g) => ClearWeightRows(GroupStart(g), GroupStart(g + 1));

        private void ClearWeightRows(int c0, int c1)
        {
            for (int c = c0; c < c1; c++)
            {
                new Span<float>(p.DWeight + ((nint)c * p.D), p.D).Clear();
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private double TargetWeight(int y) => p.ClassWeights == null ? 1 : p.ClassWeights[y];

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private bool Ignored(int t) => p.Targets[t0 + t] == p.IgnoreIndex;

        // A struct body naming the step, not a method group: each conversion to a delegate was an allocation, every
        // token block of every call.
        private readonly struct GroupItems(Runner<TL, TV> runner, GroupStep step) : IWorkItems
        {
            public void Run(int item)
            {
                switch (step)
                {
                    case GroupStep.Forward:
                        runner.ForwardGroup(item);
                        break;
                    case GroupStep.Backward:
                        runner.BackwardGroup(item);
                        break;
                    case GroupStep.ZeroBias:
                        runner.ZeroGroupBias(item);
                        break;
                    default:
                        runner.ZeroGroupWeight(item);
                        break;
                }
            }
        }
    }

    /// <summary>The per-group steps of a runner (<c>Runner.ForGroups</c>).</summary>
    private enum GroupStep : byte
    {
        Forward,
        Backward,
        ZeroBias,
        ZeroWeight,
    }
}
