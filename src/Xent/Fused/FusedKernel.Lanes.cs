using Xent.Kernels;
using Xent.LinearAlgebra;

namespace Xent.Fused;

/// <summary>
/// Token lanes: with fewer vocabulary groups than threads (a small V, such as the default model's 32 classes: one
/// group, so one thread), token blocks are the parallel tasks instead. A wave of blocks runs one block per lane, each
/// lane a runner of its own (its own buffers, all lanes within one runner's budget: never growing with N), forward and
/// dh being per token. Each lane also sums its block's dW and dBias from 0 into partials of its own, while G and h are
/// in its cache; the partials are added to dW and dBias block by block in token order, the threads splitting the
/// elements, in the same parallel call as the next wave's blocks (C + s, as the one-thread sweep's product adds each
/// block's sums). The loss terms are summed in token order. Every sum is the one-thread sweep's: the same bits for any
/// thread count.
/// </summary>
internal static unsafe partial class FusedKernel
{
    private sealed partial class Runner<TL, TV>
    {
        // A lane sums its block's dW and dBias into its partials, which AddPartials adds after its wave.
        private bool deferWeight;

        // A lane's dW beta for its current block: 0 for the call's first block that runs the backward (dW overwritten).
        private float weightBeta;

        // The token lanes of this thread's calls, kept with its runner for the next call (one set of lane counts in a
        // training loop): a call's own runners and their array were its garbage (1,144 bytes at 2 threads).
        private Runner<TL, TV>[]? laneRunners;

        /// <summary>A cleared runner made a token lane of <paramref name="call"/>: the same problem, its own buffers, run on one thread.</summary>
        private void StartLane(Runner<TL, TV> call)
        {
            p = call.p;
            shape = call.shape;
            forwardShape = call.forwardShape;
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
        /// whose entry-by-entry updates do not defer, and all lanes' buffers, dW partials included, within one runner's
        /// budget); returns false, having done nothing, when they do not.
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
            var lanes = Lanes(lanesCount);
            long laneFloats = 0;
            for (int i = 0; i < lanesCount; i++)
            {
                lanes[i].StartLane(this);

                // Whole 64-byte lines per lane.
                laneFloats = (lanes[i].PlanBuffers(cacheBudget) + 15) / 16 * 16;
            }

            // Every lane's buffers together stay within what one runner may use (the cache budget plus OtherBytes).
            long budget = callBudget + OtherBytes;
            if (lanesCount * laneFloats * sizeof(float) > budget)
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

        /// <summary>The kept lanes when there are <paramref name="count"/> of them, else new ones kept for the next call.</summary>
        private Runner<TL, TV>[] Lanes(int count)
        {
            if (laneRunners == null || laneRunners.Length != count)
            {
                laneRunners = new Runner<TL, TV>[count];
                for (int i = 0; i < count; i++)
                {
                    laneRunners[i] = new Runner<TL, TV>();
                }
            }

            return laneRunners;
        }

        /// <summary>Clears the kept lanes (<see cref="Clear"/>): none keeps an address of the call that ran them.</summary>
        private void ClearLanes()
        {
            if (laneRunners != null)
            {
                foreach (var lane in laneRunners)
                {
                    lane.Clear();
                }
            }
        }

        /// <summary>
        /// Waves of <paramref name="count"/> blocks, one per lane, in the lanes' two sets in turn; each parallel call
        /// runs a wave's blocks and adds the previous wave's partials. Losses are summed after each wave, in token order.
        /// </summary>
        private void SweepWaves(Runner<TL, TV>[] lanes, int count, ref double main, ref double zTerms)
        {
            int due = -1, dueUsed = 0;
            for (int start = 0, wave = 0; start < p.N || due >= 0; start += count * TB, wave++)
            {
                int used = start < p.N ? Math.Min(count, (p.N - start + TB - 1) / TB) : 0;
                int offset = lanes.Length > count ? wave % 2 * count : 0;
                int weightItems = due < 0 ? 0 : ThreadCount;
                int first = start, previous = due, previousUsed = dueUsed;
                ParallelWork.For(used + weightItems, threads, new WaveItems(lanes, offset, used, first, previous, previousUsed, weightItems));
                due = used > 0 && FinishWave(lanes, offset, used, ref main, ref zTerms) ? offset : -1;
                dueUsed = used;
            }
        }

        /// <summary>A wave's items: its blocks, one per lane, then the parts of the previous wave's partials.</summary>
        private readonly struct WaveItems(Runner<TL, TV>[] lanes, int offset, int used, int first, int previous, int previousUsed, int weightItems)
            : IWorkItems
        {
            public void Run(int item)
            {
                if (item < used)
                {
                    lanes[offset + item].RunBlock(first + (item * TB));
                    return;
                }

                for (int j = previous; j < previous + previousUsed; j++)
                {
                    lanes[j].AddPartials(item - used, weightItems);
                }
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

        /// <summary>
        /// Part <paramref name="part"/> of <paramref name="parts"/> of the lane's block partials added to dW and dBias
        /// (dW's parts in multiples of 16 elements): dW = partial for the call's first block when it overwrites dW
        /// (beta 0), else dW + partial; dBias + partial.
        /// </summary>
        private void AddPartials(int part, int parts)
        {
            if (!blockKept)
            {
                return;
            }

            long total = (long)p.V * p.D;
            long e0 = Math.Min(total, total * part / parts / 16 * 16), e1 = part == parts - 1 ? total : Math.Min(total, total * (part + 1) / parts / 16 * 16);
            for (long e = e0; e < e1; e += int.MaxValue / 2)
            {
                int n = (int)Math.Min(e1 - e, int.MaxValue / 2);
                var destination = new Span<float>(p.DWeight + e, n);
                var partial = new ReadOnlySpan<float>(weightPartial + e, n);
                if (weightBeta == 0)
                {
                    partial.CopyTo(destination);
                }
                else
                {
                    Elementwise.Add(destination, partial, destination);
                }
            }

            if (p.DBias != null)
            {
                int b0 = (int)((long)p.V * part / parts), b1 = (int)((long)p.V * (part + 1) / parts);
                var bias = new Span<float>(p.DBias + b0, b1 - b0);
                Elementwise.Add(bias, new ReadOnlySpan<float>(biasPartial + b0, b1 - b0), bias);
            }
        }
    }
}
