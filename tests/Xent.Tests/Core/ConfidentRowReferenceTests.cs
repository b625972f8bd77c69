using Xent.Reference;

namespace Xent.Tests.Core;

/// <summary>
/// The float64 reference on rows whose target logit leads the others by 20 to 40: the loss lse - z[y] is the small
/// sum of exp(z[c] - z[y]), which lse - z[y] (or log of 1 + that sum) cancels away in double: 0 for [0, -40, -40],
/// whose loss is 8.5e-18. The expected values are lse - z[y] and p - onehot(y) by mpmath at 50 digits.
/// </summary>
public sealed class ConfidentRowReferenceTests
{
    private const double Relative = 1e-14;

    public static TheoryData<float[], double, double, double> Rows => new()
    {
        // logits, loss of target 0, dz[0] = p[0] - 1, dz[1] = p[1]
        { [0f, -40f, -40f], 8.496708510583178e-18, -8.4967085105831779e-18, 4.248354255291589e-18 },
        { [10f, -30f, -25f, -35f], 6.3478865545579582e-16, -6.3478865545579562e-16, 4.2483542552915863e-18 },
        { [3.5f, -30.25f, -31.5f, -29.75f, -33f], 6.6002440132817031e-15, -6.6002440132816813e-15, 2.2007019879753521e-15 },
        { [0f, -20f, -20f], 4.1223072363804072e-9, -4.1223072278836987e-9, 2.0611536139418494e-9 },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public void TheLossAndGradientKeepTheirRelativePrecision(float[] logits, double loss, double dz0, double dz1)
    {
        Near(loss, CrossEntropyReference.RowLosses(logits, [0])[0], "row loss");
        Near(loss, CrossEntropyReference.Loss(logits, [0]), "mean loss");
        Near(loss, CrossEntropyRowTrace.Of(logits, 0).Loss, "trace loss");
        var g = CrossEntropyReference.Gradient(logits, [0]);
        Near(dz0, g[0], "dz[0]");
        Near(dz1, g[1], "dz[1]");

        var oneHot = new float[logits.Length];
        oneHot[0] = 1;
        Near(loss, CrossEntropyReference.RowLosses(logits, oneHot, logits.Length)[0], "one-hot probability target");
    }

    [Fact]
    public void TheLogSumExpNearZeroKeepsItsRelativePrecision()
    {
        // lse of [0, -40, -40] is log(1 + 2 exp(-40)), the row loss above.
        Near(8.496708510583178e-18, CrossEntropyReference.LogSumExp([0f, -40f, -40f], 1)[0], "lse");
    }

    [Fact]
    public void TheOrdinaryRowsAndSpecialValuesAreUnchanged()
    {
        // A target far below the max: 40 + 8.5e-18, and p[0] = 1 - 8.5e-18 rounds to 1 in double.
        Near(40, CrossEntropyReference.RowLosses([0f, -40f, -40f], [1])[0], "loss of a far target");
        Assert.Equal(1.0, CrossEntropyReference.Gradient([0f, -40f, -40f], [1])[0]);
        Assert.True(double.IsNaN(CrossEntropyReference.RowLosses([0f, float.PositiveInfinity, 1f], [0])[0]), "+inf logit: NaN");
        Assert.True(double.IsNaN(CrossEntropyReference.RowLosses([float.PositiveInfinity, 0f], [0])[0]), "+inf target: NaN");
        Assert.True(double.IsNaN(CrossEntropyReference.RowLosses([float.NegativeInfinity, float.NegativeInfinity], [0])[0]), "all -inf: NaN");
        Assert.True(double.IsNaN(CrossEntropyReference.RowLosses([float.NaN, 1f], [1])[0]), "NaN logit: NaN");
        Assert.Equal(double.PositiveInfinity, CrossEntropyReference.RowLosses([float.NegativeInfinity, 1f], [0])[0]);
        Assert.Equal(-1.0, CrossEntropyReference.Gradient([float.NegativeInfinity, 1f], [0])[0]);
    }

    private static void Near(double expected, double actual, string what) =>
        Assert.True(Math.Abs(expected - actual) <= Relative * Math.Abs(expected), $"{what}: expected {expected:R}, got {actual:R}");
}
