using Xent.Kernels;

namespace Xent.Tests.Core;

/// <summary>
/// <see cref="RowAccumulator.Of"/>, the short rows' fold of their one block, against <see cref="RowAccumulator.Empty"/>
/// with the block added, field by field, bit for bit: special maxima and sums included, where a NaN max with a finite
/// sum (which the kernels never produce) is the one case that tells the two apart if Of forgets its NaN rule.
/// </summary>
public class RowAccumulatorTests
{
    public static TheoryData<float, float, float> Blocks() => new()
    {
        { 2.5f, 7.25f, -3f },
        { float.NegativeInfinity, 0f, 0f },
        { float.NaN, 3f, 1f },
        { float.NaN, float.NaN, 0f },
        { 5f, float.NaN, 2f },
        { 1f, float.PositiveInfinity, float.NegativeInfinity },
        { -0f, 1f, -0f },
        { float.MaxValue, 1f, float.MaxValue },
        { -float.MaxValue, 0f, 0f },
    };

    [Theory]
    [MemberData(nameof(Blocks))]
    public void Of_IsEmptyWithTheBlockAdded(float max, float sum, float weighted)
    {
        var block = new BlockStatistics { Max = max, Sum = sum, WeightedLogits = weighted, WeightedTargetLogits = 2 * weighted, WeightedTargets = weighted / 2 };
        var expected = RowAccumulator.Empty;
        expected.Add(block);
        var actual = RowAccumulator.Of(block);
        Assert.Equal(BitConverter.SingleToInt32Bits(expected.Max), BitConverter.SingleToInt32Bits(actual.Max));
        Assert.Equal(BitConverter.DoubleToInt64Bits(expected.Sum), BitConverter.DoubleToInt64Bits(actual.Sum));
        Assert.Equal(BitConverter.DoubleToInt64Bits(expected.WeightedLogits), BitConverter.DoubleToInt64Bits(actual.WeightedLogits));
        Assert.Equal(BitConverter.DoubleToInt64Bits(expected.WeightedTargetLogits), BitConverter.DoubleToInt64Bits(actual.WeightedTargetLogits));
        Assert.Equal(BitConverter.DoubleToInt64Bits(expected.WeightedTargets), BitConverter.DoubleToInt64Bits(actual.WeightedTargets));
    }
}
