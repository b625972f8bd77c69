using System.Buffers;

namespace Xent.Kernels;

/// <summary>The two ways of dealing the work out: whole rows, or block ranges of few long rows.</summary>
internal sealed unsafe partial class CrossEntropyKernel
{
    private void RunRows(int threads)
    {
        int perItem = Partition.RowsPerItem(classes);
        int items = (rows + perItem - 1) / perItem;
        Partition.For(items, threads, (long)rows * classes, item =>
        {
            var scratch = RentScratch();
            var blockStatistics = ArrayPool<BlockStatistics>.Shared.Rent(BlockCount);
            var exps = streamGradient ? ArrayPool<float>.Shared.Rent(classes) : null;
            try
            {
                int end = Math.Min(rows, (item + 1) * perItem);
                for (int n = item * perItem; n < end; n++)
                {
                    ProcessRow(n, scratch, blockStatistics, exps);
                }
            }
            finally
            {
                ReturnScratch(scratch);
                ArrayPool<BlockStatistics>.Shared.Return(blockStatistics);
                if (exps != null)
                {
                    ArrayPool<float>.Shared.Return(exps);
                }
            }
        });
    }

    /// <summary>
    /// Few long rows (1 x 262144): threads take fixed block ranges; the block statistics are then folded per row
    /// in block order, exactly as <see cref="ProcessRow"/> folds them, and the gradient is written range by range.
    /// </summary>
    private void RunSplit(int threads)
    {
        int blocks = BlockCount;
        int segments = Math.Clamp(((4 * threads) + rows - 1) / rows, 1, blocks);
        int perSegment = (blocks + segments - 1) / segments;
        segments = (blocks + perSegment - 1) / perSegment;
        var statistics = new BlockStatistics[rows * blocks];
        long elements = (long)rows * classes;
        var targetLogits = new float[rows];
        for (int n = 0; n < rows; n++)
        {
            targetLogits[n] = NeedsForward(n) ? TargetLogitBeforeWrites(n) : 0f;
        }

        Partition.For(rows * segments, threads, elements, item =>
        {
            int n = item / segments, first = (item % segments) * perSegment, end = Math.Min(blocks, first + perSegment);
            if (!NeedsForward(n))
            {
                return;
            }

            var scratch = RentScratch();
            try
            {
                for (int b = first; b < end; b++)
                {
                    statistics[(n * blocks) + b] = Statistics(n, b, scratch);
                }
            }
            finally
            {
                ReturnScratch(scratch);
            }
        });

        var finished = new RowGradient[rows];
        for (int n = 0; n < rows; n++)
        {
            if (!NeedsForward(n))
            {
                StoreLoss(n, 0, 0);
                continue;
            }

            var state = RowAccumulator.Empty;
            for (int b = 0; b < blocks; b++)
            {
                state.Add(statistics[(n * blocks) + b]);
            }

            finished[n] = FinishRow(n, state, targetLogits[n]);
        }

        if (!HasGradient)
        {
            return;
        }

        Partition.For(rows * segments, threads, elements, item =>
        {
            int n = item / segments, first = (item % segments) * perSegment, end = Math.Min(blocks, first + perSegment);
            var scratch = RentScratch();
            try
            {
                WriteRowGradient(n, finished[n], first, end, scratch, statistics.AsSpan(n * blocks, blocks));
            }
            finally
            {
                ReturnScratch(scratch);
            }
        });

        for (int n = 0; n < rows; n++)
        {
            FixTarget(n, finished[n]);
        }
    }
}
