namespace Xent.Distributed;

/// <summary>
/// Splits a count into K contiguous parts in rank order, the first (count mod K) parts one larger: how the
/// vocabulary is split across the ranks of a vocabulary-parallel head, and a global batch across data-parallel ranks.
/// </summary>
public static class ContiguousSplit
{
    /// <summary>Part <paramref name="part"/> of <paramref name="count"/> items in <paramref name="parts"/> parts.</summary>
    /// <param name="count">Items in all, &gt;= 0.</param>
    /// <param name="part">Which part, in [0, K).</param>
    /// <param name="parts">K &gt;= 1.</param>
    /// <returns>The part's first item and its number of items (0 when K &gt; count and the part is past the end).</returns>
    public static (int Start, int Count) Of(int count, int part, int parts)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfLessThan(parts, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(part);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(part, parts);
        int size = count / parts, larger = count % parts;
        return ((part * size) + Math.Min(part, larger), size + (part < larger ? 1 : 0));
    }
}
