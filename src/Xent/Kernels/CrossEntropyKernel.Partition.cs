namespace Xent.Kernels;

/// <summary>
/// The two ways of dealing the work out: whole rows, or block ranges of few long rows. Only speed depends on
/// these choices: each row's arithmetic is the same fold of the same blocks whichever way the work is split.
/// </summary>
internal sealed unsafe partial class CrossEntropyKernel
{
    /// <summary>Below this much work (<see cref="Work"/>) a call runs on the calling thread: waking workers costs more.</summary>
    private const long InlineElements = 1 << 15;

    /// <summary>
    /// A row's fixed cost in elements' worth of work (its statistics call, log-sum-exp and loss in double, its
    /// gradient's target column): 60-160 ns on one Zen 5 core, the time of 400-2,000 logits' arithmetic. Counted so
    /// that short rows (a classifier's 10 or 32 classes) are split among threads instead of running 64 K elements
    /// (thousands of rows) to an item.
    /// </summary>
    private const int RowOverheadElements = 256;

    /// <summary>The work of <paramref name="rows"/> rows of <paramref name="classes"/>, in elements (see <see cref="RowOverheadElements"/>).</summary>
    private static long Work(int rows, int classes) => (long)rows * ((long)classes + RowOverheadElements);

    /// <summary>Rows are split into block ranges when they are too few to keep every thread busy.</summary>
    private static bool SplitRows(int rows, int classes, int threads) =>
        threads > 1 && rows < 2 * threads && classes >= 4 * BlockColumns;

    /// <summary>Rows per work item, so that an item is at least about 64 K elements' work (<see cref="Work"/>).</summary>
    internal static int RowsPerItem(int classes) => (int)Math.Max(1, (1 << 16) / Work(1, classes));

    // Items dealt from both ends (the caller's from the first, the worker's from the last; see WorkerPool.TryRun): with
    // 2 threads each keeps about the same rows from call to call, and the rows a GEMM before it wrote. 2048 rows of 10,
    // 32 and 128 classes, Loss on 2 threads, alternating processes: 0.91-0.96x the time of items taken in turn; 2048 x
    // 50257 unchanged.
    // Struct bodies: a lambda's closure and delegate were garbage on every call.
    private static void For<TBody>(int count, int threads, long work, TBody body)
        where TBody : struct, IWorkItems =>
        ParallelWork.For(count, threads, body, inline: work < InlineElements, ends: ParallelWork.Ends);

    /// <summary>
    /// Whether the row loop deals rows in groups (up to <see cref="GroupRows"/> per item, at least 8 items per
    /// thread): each thread then reads one contiguous stretch of logits, and its write pass brings the next row of
    /// its group into L2 while it computes the gradient (float logits, x86). Off: one row per item (benchmarks).
    /// Zen 5, two threads, stream-compare, grouped / one row per item: Loss 0.87-0.97 at 2048 x 50257 and 8192 x 32000
    /// at every width (0.91-1.13 at 256 x 50257, calls of 1 ms, noisy); LossAndGradient 0.82-0.96 streamed, 0.52-1.06
    /// in place.
    /// </summary>
    internal static bool GroupedRows { get; set; } = true;

    private const int GroupRows = 8;

    /// <summary>Rows per item for the row loop: a group where the rows allow (<see cref="GroupedRows"/>).</summary>
    private int ItemRows(int threads) =>
        Math.Max(RowsPerItem(classes), GroupedRows ? Math.Min(GroupRows, rows / (8 * threads)) : 1);

    private void RunRows(int threads)
    {
        int perItem = ItemRows(threads);
        int items = (rows + perItem - 1) / perItem;
        For(items, threads, Work(rows, classes), new RowItems(this, perItem, ShortRowsApply));
    }

    /// <summary>Rows [item * perItem, ...) of the row loop, <paramref name="perItem"/> to an item.</summary>
    private void RunRowItem(int item, int perItem)
    {
        var scratch = Scratch();
        var blockStatistics = RowBlockStatistics();
        int end = Math.Min(rows, (item + 1) * perItem);
        for (int n = item * perItem; n < end; n++)
        {
            ProcessRow(n, scratch, blockStatistics, n + 1 < end ? n + 1 : -1);
        }

        if (streamGradient)
        {
            StreamingStores.Fence(); // before the item is reported done
        }
    }

    private readonly struct RowItems(CrossEntropyKernel kernel, int perItem, bool shortRows) : IWorkItems
    {
        public void Run(int item)
        {
            if (shortRows)
            {
                kernel.ShortRows(item * perItem, Math.Min(kernel.rows, (item + 1) * perItem));
            }
            else
            {
                kernel.RunRowItem(item, perItem);
            }
        }
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
        var statistics = Cleared(ref splitStatistics, rows * blocks);
        long work = Work(rows, classes);
        var targetLogits = Cleared(ref splitTargetLogits, rows);
        for (int n = 0; n < rows; n++)
        {
            targetLogits[n] = NeedsForward(n) ? TargetLogitBeforeWrites(n) : 0f;
        }

        For(rows * segments, threads, work, new SplitItems(this, segments, perSegment, statistics, null));

        var finished = Cleared(ref splitFinished, rows);
        var dominants = HasGradient && SoftTargets ? Cleared(ref splitDominants, rows) : null;
        for (int n = 0; n < rows; n++)
        {
            if (!NeedsForward(n))
            {
                StoreLoss(n, default);
                continue;
            }

            var state = RowAccumulator.Empty;
            for (int b = 0; b < blocks; b++)
            {
                state.Add(statistics[(n * blocks) + b]);
            }

            finished[n] = FinishRow(n, state, targetLogits[n]);
            if (dominants != null)
            {
                // Before any row's write pass overwrites its logits (in place).
                dominants[n] = FindDominant(n, state, statistics.AsSpan(n * blocks, blocks), Scratch());
            }
        }

        if (!HasGradient)
        {
            return;
        }

        For(rows * segments, threads, work, new SplitItems(this, segments, perSegment, statistics, finished));

        for (int n = 0; n < rows; n++)
        {
            FixTarget(n, finished[n]);
            if (dominants != null)
            {
                FixDominant(n, finished[n], dominants[n]);
            }
        }
    }

    /// <summary>The first <paramref name="length"/> entries of <paramref name="kept"/> cleared, as a new array's; grown when short.</summary>
    private static T[] Cleared<T>(ref T[]? kept, int length)
        where T : struct
    {
        if (kept == null || kept.Length < length)
        {
            kept = new T[length];
        }
        else
        {
            Array.Clear(kept, 0, length);
        }

        return kept;
    }

    /// <summary>Block statistics of a split row's segment, or (given the finished rows) its gradient.</summary>
    private void RunSegment(int item, int segments, int perSegment, BlockStatistics[] statistics, RowGradient[]? finished)
    {
        int blocks = BlockCount;
        int n = item / segments, first = (item % segments) * perSegment, end = Math.Min(blocks, first + perSegment);
        if (finished != null)
        {
            WriteRowGradient(n, finished[n], first, end, Scratch(), statistics.AsSpan(n * blocks, blocks));
            if (streamGradient)
            {
                StreamingStores.Fence(); // before the item is reported done, and so before the targets' stores after it
            }

            return;
        }

        if (!NeedsForward(n))
        {
            return;
        }

        var scratch = Scratch();
        for (int b = first; b < end; b++)
        {
            statistics[(n * blocks) + b] = Statistics(n, b, scratch);
        }
    }

    private readonly struct SplitItems(CrossEntropyKernel kernel, int segments, int perSegment, BlockStatistics[] statistics, RowGradient[]? finished)
        : IWorkItems
    {
        public void Run(int item) => kernel.RunSegment(item, segments, perSegment, statistics, finished);
    }
}
