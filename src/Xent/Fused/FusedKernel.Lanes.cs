using Xent.Kernels;
using Xent.LinearAlgebra;

namespace Xent.Fused;

/// <summary>
/// Token lanes: with fewer vocabulary groups than threads (a small V, such as the default model's 32 classes: one
/// group, so one thread), token blocks are the parallel tasks instead. A wave of blocks runs one block per lane, each
/// lane a runner of its own (its own buffers, all lanes within one runner's budget: never growing with N), forward and
/// dh being per token; dW and dBias are deferred and added block by block in token order, the threads splitting them by 6-row
/// class strips, in the same parallel call as the next wave's blocks. The loss terms are summed in token order. Every
/// sum is the one-thread sweep's: the same bits for any thread count.
/// </summary>
internal static unsafe partial class FusedKernel
{
    private sealed partial class Runner<TL, TV>
    {
        // A lane leaves dW and dBias to AddWeightStrips, after its wave.
        private bool deferWeight;

        // A lane's dW beta for its current block: 0 for the call's first block that runs the backward (dW overwritten).
        private float weightBeta;

        /// <summary>A token lane of <paramref name="call"/>: the same problem, its own buffers, run on one thread.</summary>
        private Runner(Runner<TL, TV> call)
        {
            p = call.p;
            shape = call.shape;
            groups = call.groups;
            constants = call.constants;
            kept = call.kept;
            callScales = call.callScales;
            threads = 1;
            deferWeight = p.Backward;
            clearHidden = call.clearHidden;
        }

        private int ThreadCount => threads < 0 ? Environment.ProcessorCount : threads;

        /// <summary>
        /// Runs the sweep in token lanes when they apply (more threads than groups, more than one block, no filtering,
        /// whose entry-by-entry updates do not defer, every tile cached, as the deferred dW reads the cached G, and all
        /// lanes' buffers within one runner's budget); returns false, having done nothing, when they do not.
        /// </summary>
        private bool TrySweepLanes(ref double main, ref double zTerms)
        {
            int count = Math.Min(ThreadCount, (p.N + TB - 1) / TB);
            if (count <= groups || count < 2 || Filtering)
            {
                return false;
            }

            // With a backward, two sets of lanes: one wave's dW is added in the same parallel call as the next wave's
            // blocks run, which halves the calls (and their waits for the slowest item).
            int lanesCount = p.Backward ? 2 * count : count;
            long callBudget = CacheOverride.Value ?? p.CacheBytes, cacheBudget = callBudget / lanesCount;
            var lanes = new Runner<TL, TV>[lanesCount];
            long laneFloats = 0;
            for (int i = 0; i < lanesCount; i++)
            {
                lanes[i] = new Runner<TL, TV>(this);

                // Whole 64-byte lines per lane.
                laneFloats = (lanes[i].PlanBuffers(cacheBudget) + 15) / 16 * 16;
            }

            // Every lane's buffers together stay within what one runner may use (the cache budget plus OtherBytes).
            long budget = callBudget + OtherBytes;
            if ((p.Backward && lanes[0].cachedPerGroup < TilesPerGroup()) || lanesCount * laneFloats * sizeof(float) > budget)
            {
                return false;
            }

            var scratch = ScratchPool.Rent(lanesCount * laneFloats);
            try
            {
                for (int i = 0; i < lanesCount; i++)
                {
                    lanes[i].AssignBuffers(scratch.Pointer + (i * laneFloats));
                }

                SweepWaves(lanes, count, ref main, ref zTerms);
            }
            finally
            {
                ScratchPool.Return(scratch, budget);
            }

            return true;
        }

        /// <summary>The most tiles a group sweeps.</summary>
        private int TilesPerGroup()
        {
            int most = 0;
            for (int g = 0; g < groups; g++)
            {
                most = Math.Max(most, (GroupStart(g + 1) - GroupStart(g) + VocabBlock - 1) / VocabBlock);
            }

            return most;
        }

        /// <summary>
        /// Waves of <paramref name="count"/> blocks, one per lane, in the lanes' two sets in turn; each parallel call
        /// runs a wave's blocks and the previous wave's dW strips. Losses are summed after each wave, in token order.
        /// </summary>
        private void SweepWaves(Runner<TL, TV>[] lanes, int count, ref double main, ref double zTerms)
        {
            int strips = StripCount();
            int due = -1, dueUsed = 0;
            for (int start = 0, wave = 0; start < p.N || due >= 0; start += count * TB, wave++)
            {
                int used = start < p.N ? Math.Min(count, (p.N - start + TB - 1) / TB) : 0;
                int offset = lanes.Length > count ? wave % 2 * count : 0;
                int weightItems = due < 0 ? 0 : Math.Min(ThreadCount, strips);
                int first = start, previous = due, previousUsed = dueUsed;
                ParallelWork.For(used + weightItems, threads, i =>
                {
                    if (i < used)
                    {
                        lanes[offset + i].RunBlock(first + (i * TB));
                        return;
                    }

                    int k = i - used, s0 = (int)((long)strips * k / weightItems), s1 = (int)((long)strips * (k + 1) / weightItems);
                    for (int j = previous; j < previous + previousUsed; j++)
                    {
                        lanes[j].AddWeightStrips(s0, s1);
                    }
                });
                due = used > 0 && FinishWave(lanes, offset, used, ref main, ref zTerms) ? offset : -1;
                dueUsed = used;
            }
        }

        /// <summary>Adds the wave's loss terms in token order and sets its dW betas; returns whether any block has dW to add.</summary>
        private bool FinishWave(Runner<TL, TV>[] lanes, int offset, int used, ref double main, ref double zTerms)
        {
            bool any = false;
            for (int i = offset; i < offset + used; i++)
            {
                lanes[i].SumBlock(ref main, ref zTerms);
                lanes[i].weightBeta = freshWeight ? 0 : 1;
                if (p.Backward && lanes[i].blockKept)
                {
                    freshWeight = false;
                    any = true;
                }
            }

            return any;
        }

        /// <summary>The 6-row class strips of every tile of every group, the units dW is split by.</summary>
        private int StripCount()
        {
            int strips = 0;
            for (int g = 0; g < groups; g++)
            {
                for (int c0 = GroupStart(g); c0 < GroupStart(g + 1); c0 += VocabBlock)
                {
                    strips += TileStrips(Math.Min(VocabBlock, GroupStart(g + 1) - c0));
                }
            }

            return strips;
        }

        private static int TileStrips(int vb) => (vb + PanelKernels.Mr - 1) / PanelKernels.Mr;

        /// <summary>
        /// dW and dBias of strips [s0, s1) (numbered as <see cref="StripCount"/> counts them) from the lane's block: its
        /// cached G tiles and packed h, as the backward would have added them.
        /// </summary>
        private void AddWeightStrips(int s0, int s1)
        {
            if (!blockKept)
            {
                return;
            }

            const int mr = PanelKernels.Mr;
            int s = 0;
            for (int g = 0; g < groups; g++)
            {
                int v0 = GroupStart(g), v1 = GroupStart(g + 1);
                for (int c0 = v0; c0 < v1 && s < s1; c0 += VocabBlock)
                {
                    int vb = Math.Min(VocabBlock, v1 - c0), n = TileStrips(vb);
                    int a = Math.Max(s0, s) - s, b = Math.Min(s1, s + n) - s;
                    s += n;
                    if (a >= b)
                    {
                        continue;
                    }

                    float* tile = CachedTile(g, v0, c0);
                    int r0 = a * mr, r1 = Math.Min(vb, b * mr);
                    WeightProduct(c0, r0, r1, tile, weightBeta);
                    if (p.DBias != null)
                    {
                        TileEpilogues.AddRowSums<TL, TV>(tile + (r0 * TB), r1 - r0, tbnPad, p.DBias + c0 + r0);
                    }
                }
            }
        }
    }
}
