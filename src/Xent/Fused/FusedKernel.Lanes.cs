using Xent.Kernels;
using Xent.LinearAlgebra;

namespace Xent.Fused;

/// <summary>
/// Token lanes: with fewer vocabulary groups than threads (a small V, such as the default model's 32 classes: one
/// group, so one thread), token blocks are the parallel tasks instead. A wave of blocks runs one block per lane, each
/// lane a runner of its own (its own buffers: memory grows with the lanes, never with N), forward and dh being per
/// token; then dW and dBias, deferred, are added block by block in token order, the threads splitting them by 6-row
/// class strips. The loss terms are summed in token order. Every sum is the one-thread sweep's: the same bits for
/// any thread count.
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
            threads = 1;
            deferWeight = p.Backward;
        }

        private int ThreadCount => threads < 0 ? Environment.ProcessorCount : threads;

        /// <summary>
        /// Runs the sweep in token lanes when they apply (more threads than groups, more than one block, no filtering,
        /// whose entry-by-entry updates do not defer, and every tile cached, as the deferred dW reads the cached G);
        /// returns false, having done nothing, when they do not.
        /// </summary>
        private bool TrySweepLanes(ref double main, ref double zTerms)
        {
            int blocks = (p.N + TB - 1) / TB;
            int count = Math.Min(ThreadCount, blocks);
            if (count <= groups || count < 2 || Filtering)
            {
                return false;
            }

            long cacheBudget = (CacheOverride.Value ?? p.CacheBytes) / count;
            var lanes = new Runner<TL, TV>[count];
            long laneFloats = 0;
            for (int i = 0; i < count; i++)
            {
                lanes[i] = new Runner<TL, TV>(this);

                // Whole 64-byte lines per lane.
                laneFloats = (lanes[i].PlanBuffers(cacheBudget) + 15) / 16 * 16;
            }

            if (p.Backward && lanes[0].cachedPerGroup < TilesPerGroup())
            {
                return false;
            }

            var scratch = ScratchPool.Rent(count * laneFloats);
            try
            {
                for (int i = 0; i < count; i++)
                {
                    lanes[i].AssignBuffers(scratch.Pointer + (i * laneFloats));
                }

                for (int start = 0; start < p.N; start += count * TB)
                {
                    RunWave(lanes, start, ref main, ref zTerms);
                }
            }
            finally
            {
                ScratchPool.Return(scratch, (cacheBudget * count) + OtherBytes);
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

        /// <summary>The blocks from <paramref name="start"/>, one per lane, then their losses and dW in token order.</summary>
        private void RunWave(Runner<TL, TV>[] lanes, int start, ref double main, ref double zTerms)
        {
            int used = Math.Min(lanes.Length, (p.N - start + TB - 1) / TB);
            ParallelWork.For(used, threads, i => lanes[i].RunBlock(start + (i * TB)));
            bool any = false;
            for (int i = 0; i < used; i++)
            {
                lanes[i].SumBlock(ref main, ref zTerms);
                lanes[i].weightBeta = freshWeight ? 0 : 1;
                if (p.Backward && lanes[i].blockKept)
                {
                    freshWeight = false;
                    any = true;
                }
            }

            if (!any)
            {
                return;
            }

            int strips = StripCount(), items = Math.Min(ThreadCount, strips);
            ParallelWork.For(items, threads, k =>
            {
                int s0 = (int)((long)strips * k / items), s1 = (int)((long)strips * (k + 1) / items);
                for (int i = 0; i < used; i++)
                {
                    if (lanes[i].blockKept)
                    {
                        lanes[i].AddWeightStrips(s0, s1);
                    }
                }
            });
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
