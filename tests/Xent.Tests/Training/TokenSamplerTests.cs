using Xent.Training.Sampling;

namespace Xent.Tests.Training;

public class TokenSamplerTests
{
    private static readonly float[] Logits = [0.5f, 2.0f, -1.0f, 1.0f];

    [Fact]
    public void Temperature_zero_and_top_1_take_the_arg_max()
    {
        var rng = new Random(1);
        Assert.Equal(1, TokenSampler.Sample(Logits, 0, 0, rng));
        for (int i = 0; i < 50; i++)
        {
            Assert.Equal(1, TokenSampler.Sample(Logits, 1.0, 1, rng));
        }
    }

    [Fact]
    public void Frequencies_follow_the_softmax_at_the_temperature()
    {
        const int draws = 40_000;
        const double temperature = 0.7;
        var counts = new int[4];
        var rng = new Random(7);
        for (int i = 0; i < draws; i++)
        {
            counts[TokenSampler.Sample(Logits, temperature, 0, rng)]++;
        }

        double z = Logits.Sum(l => Math.Exp(l / temperature));
        for (int k = 0; k < 4; k++)
        {
            double p = Math.Exp(Logits[k] / temperature) / z;
            double sd = Math.Sqrt(p * (1 - p) / draws);
            Assert.InRange((double)counts[k] / draws, p - 5 * sd, p + 5 * sd);
        }
    }

    [Fact]
    public void Top_k_never_draws_outside_the_k_largest()
    {
        var rng = new Random(3);
        var seen = new HashSet<int>();
        for (int i = 0; i < 2000; i++)
        {
            seen.Add(TokenSampler.Sample(Logits, 5.0, 2, rng));
        }

        Assert.Equal(new HashSet<int> { 1, 3 }, seen);
    }
}
