using Xent.Training.Model;
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

    private const float NegInf = float.NegativeInfinity;

    public static TheoryData<string, float[], double, int, double> NucleusCases => new()
    {
        { "the two most likely of four", Logits, 0.7, 0, 0.8 },
        { "a small p keeps the arg max only", Logits, 0.7, 0, 0.3 },
        { "after top-k 3 all three reach p", Logits, 0.7, 3, 0.95 },
        { "after top-k 3, a hot temperature", Logits, 2.0, 3, 0.6 },
        { "a hot temperature keeps all four", Logits, 5.0, 0, 0.9 },
        { "two of three tied tokens", [0.5f, 2f, 2f, 1f, 2f], 1.0, 0, 0.5 },
        { "equal tokens: two reach p = 1/2 exactly", [0f, 0f, 0f, 0f], 1.0, 0, 0.5 },
        { "equal tokens: just over 1/2 needs a third", [0f, 0f, 0f, 0f], 1.0, 0, 0.5 + 1e-9 },
        { "equal tokens: p = 1/4 exactly keeps one", [0f, 0f, 0f, 0f], 1.0, 0, 0.25 },
        { "equal tokens: p = 3/4 exactly keeps three", [0f, 0f, 0f, 0f], 1.0, 0, 0.75 },
        { "equal tokens: p = 1 keeps all", [0f, 0f, 0f, 0f], 1.0, 0, 1.0 },
        { "64 equal tokens: p = 3/4 keeps 48", new float[64], 1.0, 0, 0.75 },
        { "100 equal tokens: 0.01 fifty times is over 1/2", new float[100], 1.0, 0, 0.5 },
        { "-infinity logits never count", [0f, NegInf, 0f, 0f, NegInf, 0f], 1.0, 0, 0.5 },
        { "top-k keeps its ties, top-p the three largest", [3f, 1f, 3f, 2f, 0f, 1f, -2f, 3f], 1.5, 5, 0.7 },
        { "a tiny p keeps the first of the largest", [1f, 3f, 3f, 2f], 1.0, 0, 1e-12 },
    };

    [Theory]
    [MemberData(nameof(NucleusCases))]
    public void Top_p_frequencies_follow_the_nucleus_of_the_tempered_top_k_distribution(
        string name, float[] logits, double temperature, int topK, double topP)
    {
        const int draws = 40_000;
        var counts = new int[logits.Length];
        var rng = new Random(11);
        for (int i = 0; i < draws; i++)
        {
            counts[TokenSampler.Sample(logits, temperature, topK, topP, rng)]++;
        }

        double[] expected = HuggingFaceProbabilities(logits, temperature, topK, topP);
        for (int k = 0; k < logits.Length; k++)
        {
            double p = expected[k];
            double sd = Math.Sqrt(p * (1 - p) / draws);
            double frequency = (double)counts[k] / draws;
            Assert.True(frequency >= p - 5 * sd && frequency <= p + 5 * sd, $"{name}: token {k} drawn {frequency}, expected {p}");
        }
    }

    [Fact]
    public void The_reference_keeps_as_many_tied_tokens_as_hugging_face()
    {
        // Counts kept by HF's TopPLogitsWarper on float64 scores (torch 1.13), whose choice among ties follows
        // torch's sort; the count is what the definition fixes. 100 ties of 0.01 sum to just over 1/2 at the 50th.
        Assert.Equal(new[] { 0, 0.5, 0.5, 0, 0 }, HuggingFaceProbabilities([0.5f, 2f, 2f, 1f, 2f], 1.0, 0, 0.5));
        Assert.Equal(new[] { 0.5, 0.5, 0, 0 }, HuggingFaceProbabilities([0f, 0f, 0f, 0f], 1.0, 0, 0.5));
        Assert.Equal(32, HuggingFaceProbabilities(new float[64], 1.0, 0, 0.5).Count(p => p > 0));
        Assert.Equal(48, HuggingFaceProbabilities(new float[64], 1.0, 0, 0.75).Count(p => p > 0));
        Assert.Equal(51, HuggingFaceProbabilities(new float[100], 1.0, 0, 0.5).Count(p => p > 0));
        Assert.Equal(76, HuggingFaceProbabilities(new float[100], 1.0, 0, 0.75).Count(p => p > 0));
    }

    [Fact]
    public void Top_p_1_draws_the_same_tokens_as_no_top_p()
    {
        var logitsRng = new Random(5);
        var logits = new float[1000];
        for (int i = 0; i < logits.Length; i++)
        {
            // Ties, a wide range (weights that underflow at a low temperature) and filtered-out tokens.
            logits[i] = i % 97 == 0 ? NegInf : (float)Math.Round(logitsRng.NextDouble() * 60 - 30, 1);
        }

        int seed = 0;
        foreach (var (temperature, topK) in new[] { (1.0, 0), (0.05, 0), (0.8, 40), (2.0, 1), (0.0, 0) })
        {
            var without = new Random(++seed);
            var with = new Random(seed);
            for (int i = 0; i < 500; i++)
            {
                Assert.Equal(TokenSampler.Sample(logits, temperature, topK, without), TokenSampler.Sample(logits, temperature, topK, 1.0, with));
            }
        }
    }

    [Fact]
    public void Top_p_over_a_gpt2_vocabulary_draws_only_from_the_nucleus()
    {
        float[] logits = Gpt2SizedLogits();
        double[] expected = HuggingFaceProbabilities(logits, 0.8, 0, 0.9);
        var rng = new Random(2);
        var counts = new Dictionary<int, int>();
        const int draws = 500;
        for (int i = 0; i < draws; i++)
        {
            int id = TokenSampler.Sample(logits, 0.8, 0, 0.9, rng);
            Assert.True(expected[id] > 0, $"token {id} is outside the nucleus");
            counts[id] = counts.GetValueOrDefault(id) + 1;
        }

        int top = Array.IndexOf(expected, expected.Max());
        double p = expected[top];
        double sd = Math.Sqrt(p * (1 - p) / draws);
        Assert.InRange((double)counts.GetValueOrDefault(top) / draws, p - 5 * sd, p + 5 * sd);
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.9)]
    [InlineData(0.99)]
    [InlineData(0.999999)]
    public void The_nucleus_over_a_gpt2_vocabulary_is_the_references(double topP)
    {
        // Most tokens skip the sort (TopP's bound), which must not change the set kept.
        float[] logits = Gpt2SizedLogits();
        double max = logits.Max();
        double[] weights = [.. logits.Select(l => Math.Exp(l - max))];
        double kept = TopP.Keep(weights, weights.Sum(), topP);

        double[] expected = HuggingFaceProbabilities(logits, 1.0, 0, topP);
        Assert.InRange(expected.Count(x => x > 0), 2, logits.Length - 1);
        Assert.Equal(Enumerable.Range(0, logits.Length).Where(i => expected[i] > 0), Enumerable.Range(0, logits.Length).Where(i => weights[i] > 0));
        Assert.Equal(weights.Sum(), kept, 12);
    }

    [Theory]
    [InlineData(0, 0.9)]
    [InlineData(5, 0.5)]
    [InlineData(0, 0.3)]
    public void Generate_with_top_p_draws_the_one_shot_samples_tokens(int topK, double topP)
    {
        // Generate reuses its draw's buffers from token to token; what one draw leaves in them must not reach the next.
        var model = new GptModel(new GptConfig { VocabSize = 64, ContextLength = 16, Dim = 32 }, 3) { MaxDegreeOfParallelism = 1 };
        int[] generated = TokenSampler.Generate(model, [1, 2], 24, 1.5, topK, topP, 7, useCache: false);

        var tokens = new List<int> { 1, 2 };
        var logits = new float[64];
        var random = new Random(7);
        for (int i = 0; i < 24; i++)
        {
            model.NextTokenLogits(tokens.Skip(Math.Max(0, tokens.Count - 16)).ToArray(), logits);
            tokens.Add(TokenSampler.Sample(logits, 1.5, topK, topP, random));
        }

        Assert.Equal(tokens, generated);
    }

    [Fact]
    public void The_nucleus_with_reused_scratch_is_the_nucleus_without()
    {
        // Ties (the lower id kept) and scratch longer than the candidates, left dirty by an earlier call.
        var keys = new double[8];
        int[] ids = new int[8];
        foreach (double[] start in new double[][] { [1, 3, 3, 3, 0.5, 2, 3, 0.1], [2, 2, 2, 2, 2, 2, 2, 2], [5, 0, 1, 1, 0, 4, 4, 0.2] })
        {
            foreach (double topP in new[] { 0.2, 0.5, 0.8 })
            {
                double[] fresh = [.. start], reused = [.. start];
                double expected = TopP.Keep(fresh, start.Sum(), topP);
                double kept = TopP.Keep(reused, start.Sum(), topP, keys, ids);
                Assert.Equal(fresh, reused);
                Assert.Equal(BitConverter.DoubleToInt64Bits(expected), BitConverter.DoubleToInt64Bits(kept));
            }
        }
    }

    private static float[] Gpt2SizedLogits()
    {
        var logitsRng = new Random(8);
        var logits = new float[50257];
        for (int i = 0; i < logits.Length; i++)
        {
            logits[i] = (float)(6 * Math.Sqrt(-2 * Math.Log(1 - logitsRng.NextDouble())) * Math.Cos(2 * Math.PI * logitsRng.NextDouble()));
        }

        return logits;
    }

    [Fact]
    public void Temperature_zero_ignores_top_p()
    {
        var rng = new Random(4);
        Assert.Equal(1, TokenSampler.Sample(Logits, 0, 0, 0.01, rng));
        Assert.Equal(1, TokenSampler.Sample([1f, 3f, 3f], 0, 2, 0.5, rng));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-0.5)]
    [InlineData(1.0000001)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void Top_p_outside_zero_to_one_is_refused(double topP)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => TokenSampler.Sample(Logits, 1.0, 0, topP, new Random(1)));
        Assert.Equal("topP", e.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => TokenSampler.Sample(Logits, 0, 0, topP, new Random(1)));
    }

    // Hugging Face generate's warpers in their order, in float64: TemperatureLogitsWarper, TopKLogitsWarper (drops
    // scores below the K-th largest), TopPLogitsWarper (sorts ascending, drops each token whose cumulative
    // probability is <= 1 - p but the last), then the softmax that multinomial draws from. Of equal scores the
    // higher id sorts first, so the lower id is kept, as TokenSampler documents.
    private static double[] HuggingFaceProbabilities(float[] logits, double temperature, int topK, double topP)
    {
        int n = logits.Length;
        double[] scores = [.. logits.Select(l => l / temperature)];
        if (topK > 0 && topK < n)
        {
            double kth = scores.OrderByDescending(s => s).ElementAt(topK - 1);
            scores = [.. scores.Select(s => s < kth ? double.NegativeInfinity : s)];
        }

        double[] probabilities = Softmax(scores);
        int[] ascending = [.. Enumerable.Range(0, n).OrderBy(i => scores[i]).ThenByDescending(i => i)];
        double cumulative = 0;
        for (int j = 0; j < n - 1; j++)
        {
            cumulative += probabilities[ascending[j]];
            if (cumulative <= 1 - topP)
            {
                scores[ascending[j]] = double.NegativeInfinity;
            }
        }

        return Softmax(scores);
    }

    private static double[] Softmax(double[] scores)
    {
        double max = scores.Max();
        double[] e = [.. scores.Select(s => Math.Exp(s - max))];
        double z = e.Sum();
        return [.. e.Select(x => x / z)];
    }
}
