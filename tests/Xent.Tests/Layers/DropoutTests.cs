using Xent.Layers;

namespace Xent.Tests.Layers;

public class DropoutTests
{
    [Theory]
    [InlineData(0.1f)]
    [InlineData(0.5f)]
    public void A_mask_drops_about_p_and_scales_the_rest_by_one_over_one_minus_p(float p)
    {
        const int count = 200_000;
        var mask = new float[count];
        var other = new float[count];
        Dropout.FillMask(p, 1, 2, 3, mask, 4);
        Dropout.FillMask(p, 1, 2, 4, other, 4);
        Assert.All(mask, m => Assert.True(m == 0 || m == 1 / (1 - p)));
        double dropped = mask.Count(m => m == 0) / (double)count;

        // Binomial standard deviation sqrt(p (1 - p) / count) <= 0.0012: 5 of them.
        Assert.InRange(dropped, p - 0.006, p + 0.006);
        Assert.NotEqual(mask, other);
        Assert.Throws<ArgumentOutOfRangeException>(() => Dropout.FillMask(1f, 1, 2, 3, mask.AsSpan(0, 1), 1));
    }
}
