using Xent.Optim;
using Xent.Tests.Core;

namespace Xent.Tests.Optim;

public class ClippingAndScheduleTests
{
    [Fact]
    public void GlobalNorm_IsTheL2NormOverAllTensors()
    {
        float[] a = [3f, 0f], b = [4f, 12f];
        Assert.Equal(13f, GradientClipping.GlobalNorm([a, b]), 1e-6f);
    }

    [Fact]
    public void Clip_ScalesToMaxNorm_AndReturnsTheNormBefore()
    {
        float[] a = [3f, 0f], b = [4f, 12f];
        float norm = GradientClipping.ClipByGlobalNorm([a, b], 1f);
        Assert.Equal(13f, norm, 1e-6f);
        Assert.Equal(1.0, GradientClipping.GlobalNorm([a, b]), 1e-6);
        Assert.Equal(3f / 13f, a[0], 1e-6f);
        Assert.Equal(12f / 13f, b[1], 1e-6f);
    }

    [Fact]
    public void Clip_BelowMax_LeavesGradientsUnchanged_AndNonFiniteIsReported()
    {
        float[] a = [0.3f, 0.4f];
        Assert.Equal(0.5f, GradientClipping.ClipByGlobalNorm([a], 1f), 1e-6f);
        Assert.Equal([0.3f, 0.4f], a);
        float[] bad = [float.NaN, 1f];
        Assert.True(float.IsNaN(GradientClipping.ClipByGlobalNorm([bad], 1f)));
        Assert.Equal(1f, bad[1]);
        Assert.Throws<ArgumentOutOfRangeException>(() => GradientClipping.ClipByGlobalNorm([a], 0f));
    }

    [Fact]
    public void Cosine_WarmupThenCosineThenFloor()
    {
        var s = new CosineSchedule { WarmupSteps = 10, TotalSteps = 110, MaxLearningRate = 1e-3f, MinLearningRate = 1e-4f };
        Assert.Equal(1e-4f, s.LearningRate(0), 1e-9f);   // (0 + 1) / 10 of max
        Assert.Equal(5e-4f, s.LearningRate(4), 1e-9f);
        Assert.Equal(1e-3f, s.LearningRate(9), 1e-9f);   // end of warm-up
        Assert.Equal(1e-3f, s.LearningRate(10), 1e-9f);  // cosine starts at max
        Assert.Equal(5.5e-4f, s.LearningRate(60), 1e-9f); // half-way: (max + min) / 2
        double quarter = 1e-4 + (0.9e-3 * 0.5 * (1 + Math.Cos(Math.PI * 0.25)));
        Assert.Equal(quarter, s.LearningRate(35), 1e-9);
        Assert.Equal(1e-4f, s.LearningRate(110), 1e-9f);
        Assert.Equal(1e-4f, s.LearningRate(5000), 1e-9f);
        for (int i = 10; i < 110; i++)
        {
            Assert.True(s.LearningRate(i + 1) <= s.LearningRate(i));
        }
    }

    [Fact]
    public void Cosine_WithoutWarmup_StartsAtMax()
    {
        var s = new CosineSchedule { WarmupSteps = 0, TotalSteps = 4, MaxLearningRate = 2f, MinLearningRate = 0f };
        Assert.Equal(2f, s.LearningRate(0), 1e-6f);
        Assert.Equal(1f, s.LearningRate(2), 1e-6f);
        Assert.Equal(0f, s.LearningRate(4), 1e-6f);
    }

    [Fact]
    public void Schedule_BadSettingsThrowNamingTheSetting()
    {
        var s = new CosineSchedule();
        Assert.Equal("WarmupSteps", Assert.Throws<ArgumentOutOfRangeException>(() => (s with { WarmupSteps = -1 }).LearningRate(0)).ParamName);
        Assert.Equal("TotalSteps", Assert.Throws<ArgumentOutOfRangeException>(() => (s with { TotalSteps = -1 }).LearningRate(0)).ParamName);
        Assert.Equal("MaxLearningRate", Assert.Throws<ArgumentOutOfRangeException>(() => (s with { MaxLearningRate = float.NaN }).LearningRate(0)).ParamName);
        Assert.Equal("MinLearningRate", Assert.Throws<ArgumentOutOfRangeException>(() => (s with { MinLearningRate = -1f }).LearningRate(0)).ParamName);
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void GlobalNorm_MatchesDouble_AndIsTheSameForAnyThreadCount(VectorWidth width)
    {
        var random = new Random(8);
        float[][] grads = [[.. Enumerable.Range(0, (3 << 16) + 5).Select(_ => (float)random.NextDouble() - 0.5f)], [3f], []];
        double expected = Math.Sqrt(grads.Sum(g => g.Sum(x => (double)x * x)));
        using var scope = Simd.Override(width);
        float one = GradientClipping.GlobalNorm(grads, 1);
        Assert.Equal(expected, one, expected * 1e-7);
        Assert.Equal(one, GradientClipping.GlobalNorm(grads, 2));
        Assert.Equal(one, GradientClipping.GlobalNorm(grads));
    }

    [Fact]
    public void ClipFactor_FollowsPyTorch()
    {
        Assert.Equal((float)(1 / (13 + 1e-6)), GradientClipping.ClipFactor(13f, 1f));
        Assert.Equal(1f, GradientClipping.ClipFactor(0.5f, 1f));
        Assert.Equal(1f, GradientClipping.ClipFactor(1f - 2e-6f, 1f));

        // clamp(maxNorm / (norm + 1e-6), max 1): a norm at or just under maxNorm is scaled a little too.
        Assert.Equal((float)(1 / (1 + 1e-6)), GradientClipping.ClipFactor(1f, 1f));
        float under = 1f - 5e-7f;
        Assert.True(under < 1f);
        Assert.Equal((float)(1 / (under + 1e-6)), GradientClipping.ClipFactor(under, 1f));
        Assert.True(GradientClipping.ClipFactor(under, 1f) < 1f);
        Assert.Equal(1f, GradientClipping.ClipFactor(float.PositiveInfinity, 1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => GradientClipping.ClipFactor(1f, -1f));
    }

    [Fact]
    public void AdamWGradientScale_EqualsClippingFirst_Bitwise()
    {
        var random = new Random(9);
        float[] g = [.. Enumerable.Range(0, 1000).Select(_ => (float)random.NextDouble() - 0.5f)];
        float[] p1 = [.. Enumerable.Range(0, 1000).Select(_ => (float)random.NextDouble())];
        float[] p2 = (float[])p1.Clone();
        float[] clipped = (float[])g.Clone();
        float norm = GradientClipping.ClipByGlobalNorm([clipped], 1f);
        float factor = GradientClipping.ClipFactor(norm, 1f);
        Assert.True(factor < 0.2f);
        var a = new AdamW(new AdamWOptions(), [1000]);
        var b = new AdamW(new AdamWOptions(), [1000]);
        for (int t = 0; t < 3; t++)
        {
            a.Step([p1], [clipped], 0.01f);
            b.Step([p2], [g], 0.01f, factor);
        }

        Assert.Equal(p1, p2);
        Assert.Equal(a.SecondMoments[0], b.SecondMoments[0]);
    }
}
