using Xent.Distributed.Vocabulary;

namespace Xent.Tests.Distributed;

public class VocabularySliceTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(1001, 2)]
    [InlineData(1001, 3)]
    [InlineData(50257, 8)]
    [InlineData(2, 3)]
    [InlineData(7, 7)]
    public void Slices_TileTheVocabulary_InRankOrder_WidthsWithinOne(int classes, int size)
    {
        var slices = Enumerable.Range(0, size).Select(r => VocabularySlice.For(classes, r, size)).ToArray();
        int next = 0;
        foreach (var s in slices)
        {
            Assert.Equal(next, s.Offset);
            Assert.Equal(classes, s.Classes);
            next += s.Width;
        }

        Assert.Equal(classes, next);
        Assert.InRange(slices.Max(s => s.Width) - slices.Min(s => s.Width), 0, 1);
    }

    [Fact]
    public void BadArguments_Throw()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => VocabularySlice.For(0, 0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => VocabularySlice.For(10, 2, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => VocabularySlice.For(10, -1, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => VocabularySlice.For(10, 0, 0));
    }
}
