using Xent.Training.Model;

namespace Xent.Tests.Model;

/// <summary>
/// A model holding some rows of its untied unembedding (a rank of a vocabulary-parallel head): those rows are the
/// whole model's, bitwise, every other parameter too; it refuses what needs the whole head.
/// </summary>
public class HeadRowsTests
{
    // D = 3 is odd: a slice can start in the middle of a Box-Muller pair of the initialisation.
    private static readonly GptConfig Config = new() { VocabSize = 11, ContextLength = 4, Layers = 1, Heads = 1, Dim = 3, TieEmbeddings = false };

    [Theory]
    [InlineData(0, 11)]
    [InlineData(0, 4)]
    [InlineData(3, 5)]
    [InlineData(7, 4)]
    [InlineData(5, 0)]
    public void ARowSlice_IsTheWholeModelsRows(int offset, int count)
    {
        var whole = new GptModel(Config, 42);
        var part = new GptModel(Config, 42, (offset, count));
        var copied = whole.WithHeadRows(offset, count);
        Assert.Equal((offset, count), part.HeadRows);
        Assert.Equal(whole.ParameterCount, part.ParameterCount);
        foreach (var model in new[] { part, copied })
        {
            for (int i = 0; i < whole.Parameters.Count; i++)
            {
                var p = whole.Parameters[i];
                var expected = p.Name == "lm_head" ? p.Data.AsSpan(offset * Config.Dim, count * Config.Dim).ToArray() : p.Data;
                Assert.Equal(p.Name, model.Parameters[i].Name);
                Assert.Equal(expected, model.Parameters[i].Data); // bitwise
            }
        }
    }

    [Fact]
    public void APartialHead_WithoutALossHead_Refuses()
    {
        var part = new GptModel(Config, 1, (2, 3));
        int[] tokens = [1, 2, 3, 4], targets = [2, 3, 4, 5];
        Assert.Throws<InvalidOperationException>(() => part.Loss(tokens, targets, 1, 4));
        Assert.Throws<InvalidOperationException>(() => part.ForwardBackward(tokens, targets, 1, 4));
        Assert.Throws<InvalidOperationException>(() => part.NextTokenLogits(tokens, new float[Config.VocabSize]));
    }

    [Theory]
    [InlineData(-1, 2, false)]
    [InlineData(10, 2, false)]
    [InlineData(0, 5, true)]
    public void BadRows_OrATiedHead_Throw(int offset, int count, bool tied)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new GptModel(Config with { TieEmbeddings = tied }, 1, (offset, count)));
    }
}
