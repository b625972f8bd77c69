namespace Xent.Distributed.Vocabulary;

/// <summary>
/// The contiguous slice of the vocabulary a rank holds in a vocabulary-parallel head: V classes split into K slices
/// in rank order, the first V mod K slices one class wider (so widths differ by at most 1; a slice is empty when
/// K &gt; V). Rank r holds classes [Offset, Offset + Width): its logits columns, or its rows of W [V, D].
/// </summary>
/// <param name="Offset">c_r, the first class of the slice.</param>
/// <param name="Width">V_r, how many classes it has.</param>
/// <param name="Classes">V, the whole vocabulary.</param>
public readonly record struct VocabularySlice(int Offset, int Width, int Classes)
{
    /// <summary>Rank <paramref name="rank"/>'s slice of <paramref name="classes"/> classes split over <paramref name="size"/> ranks.</summary>
    /// <param name="classes">V &gt;= 1.</param>
    /// <param name="rank">r in [0, K).</param>
    /// <param name="size">K &gt;= 1.</param>
    public static VocabularySlice For(int classes, int rank, int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        var (offset, width) = ContiguousSplit.Of(classes, rank, size);
        return new VocabularySlice(offset, width, classes);
    }

    /// <summary>The communicator's rank's slice.</summary>
    /// <param name="classes">V.</param>
    /// <param name="communicator">Gives r and K.</param>
    public static VocabularySlice For(int classes, ICommunicator communicator)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        return For(classes, communicator.Rank, communicator.Size);
    }
}
