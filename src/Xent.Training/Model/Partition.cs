namespace Xent.Training.Model;

/// <summary>
/// Runs a body over [0, count) in fixed chunks. Every caller's chunks do independent work (rows, heads, columns),
/// and any reduction inside one chunk runs in a fixed order, so results do not depend on the thread count.
/// </summary>
internal static class Partition
{
    /// <summary>Calls body(start, end) for consecutive chunks of about <paramref name="grain"/> items.</summary>
    public static void For(int count, int grain, int maxDegreeOfParallelism, Action<int, int> body)
    {
        if (count <= 0)
        {
            return;
        }

        int chunks = (count + grain - 1) / grain;
        if (maxDegreeOfParallelism == 1 || chunks == 1)
        {
            body(0, count);
            return;
        }

        var options = new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism };
        Parallel.For(0, chunks, options, c => body(c * grain, Math.Min(count, (c + 1) * grain)));
    }

    /// <summary>A chunk size giving at least a few chunks per core for <paramref name="count"/> items.</summary>
    public static int Grain(int count, int minimum = 1) => Math.Max(minimum, count / (4 * Environment.ProcessorCount));
}
