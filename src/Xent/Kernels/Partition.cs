namespace Xent.Kernels;

/// <summary>
/// How rows and blocks are dealt out to threads. Only speed depends on these choices: each row's arithmetic is
/// the same fold of the same blocks whichever way the work is split.
/// </summary>
internal static class Partition
{
    /// <summary>Below this many elements a call runs on the calling thread: waking workers costs more.</summary>
    public const long InlineElements = 1 << 15;

    /// <summary>Rows are split into block ranges when they are too few to keep every thread busy.</summary>
    public static bool SplitRows(int rows, int classes, int threads) =>
        threads > 1 && rows < 2 * threads && classes >= 4 * CrossEntropyKernel.BlockColumns;

    /// <summary>Rows per work item, so that an item is at least about 64 K elements.</summary>
    public static int RowsPerItem(int classes) => Math.Max(1, (1 << 16) / Math.Max(classes, 1));

    /// <summary>Runs body(0..count-1) on up to <paramref name="threads"/> threads, or inline when that cannot pay.</summary>
    public static void For(int count, int threads, long elements, Action<int> body)
    {
        if (threads <= 1 || count <= 1 || elements < InlineElements)
        {
            for (int i = 0; i < count; i++)
            {
                body(i);
            }

            return;
        }

        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = threads }, body);
    }
}
