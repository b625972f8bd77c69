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

    /// <summary>
    /// A chunk size splitting <paramref name="count"/> items into about 16 chunks (at least
    /// <paramref name="minimum"/> items each, rounded up to a multiple of 16 so vector loops see the same
    /// element groups). It depends on the count only, never on the machine or the thread count.
    /// </summary>
    public static int Grain(int count, int minimum = 1)
    {
        int grain = Math.Max(minimum, (count + 15) / 16);
        return (grain + 15) & ~15;
    }
}
