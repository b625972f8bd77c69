using Xent.Training.Data;

namespace Xent.Tests.Training;

public sealed class PairKeyComparerTests
{
    [Fact]
    public void Pairs_of_small_ids_get_nearly_all_distinct_hash_codes()
    {
        // long's own hash is left ^ right: these 1024 x 1024 pairs shared 1024 codes, and learning on 50 MB of text
        // spent most of its time probing the chains.
        var codes = new HashSet<int>();
        for (int left = 0; left < 1024; left++)
        {
            for (int right = 0; right < 1024; right++)
            {
                codes.Add(PairKeyComparer.Instance.GetHashCode(BpeTokenizer.Key(left, right)));
            }
        }

        Assert.True(codes.Count > 1024 * 1024 * 99 / 100, $"{codes.Count} distinct hash codes");
    }

    [Fact]
    public void Keys_are_equal_exactly_when_their_pairs_are()
    {
        Assert.True(PairKeyComparer.Instance.Equals(BpeTokenizer.Key(3, 7), BpeTokenizer.Key(3, 7)));
        Assert.False(PairKeyComparer.Instance.Equals(BpeTokenizer.Key(3, 7), BpeTokenizer.Key(7, 3)));
    }
}
