using System.Text;
using Xent.Training.Baselines;
using Xent.Training.Data;

namespace Xent.Tests.Baselines;

public class KneserNeyTests
{
    private static int[] EnglishBytes() => ByteTokenizer.Instance.Encode(
        "the cat sat on the mat. the dog sat on the log. a cat and a dog met on the mat and sat. " +
        "then the dog ran off the mat and the cat sat alone on the log by the mat.");

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    public void Probabilities_sum_to_one_over_the_vocabulary_for_random_contexts(int order)
    {
        int[] train = EnglishBytes();
        var model = KneserNeyModel.Fit(train, 256, 5);
        var random = new Random(order);
        var p = new double[256];
        for (int trial = 0; trial < 40; trial++)
        {
            // Seen contexts (cut from the text), unseen ones (random bytes) and short ones (start of a stream).
            int length = random.Next(0, 7);
            int[] context = trial % 2 == 0
                ? train.AsSpan(random.Next(train.Length - length), length).ToArray()
                : [.. Enumerable.Range(0, length).Select(_ => random.Next(256))];
            model.Distribution(context, order, p);
            Assert.Equal(1.0, p.Sum(), 1e-12);
            Assert.All(p, x => Assert.True(x > 0));
            Assert.Equal(p[context.Length > 0 ? context[^1] : 0], model.Probability(context, context.Length > 0 ? context[^1] : 0, order));
        }
    }

    [Fact]
    public void A_tiny_example_matches_the_formulas_worked_by_hand()
    {
        // Tokens 0 1 0 1 1, V = 3. Bigram counts: (0,1) 2, (1,0) 1, (1,1) 1: count-of-counts n1 = 2, n2 = 1, n3 = 0,
        // so D = Y = 2 / (2 + 2) = 1/2 for the bigram level. Continuation counts: 0 is preceded by {1}, 1 by {0, 1}:
        // values 1 and 2, Y = 1 / (1 + 2) = 1/3. Unigram level: P1(w) = (c'(w) - 1/3) / 3 + (1/3) (1 + 1) / 3 x 1/3:
        // P1(0) = 8/27, P1(1) = 17/27, P1(2) = 2/27.
        // The unseen context 2 backs off to P1 alone.
        var model = KneserNeyModel.Fit([0, 1, 0, 1, 1], 3, 2);
        Assert.Equal(8.0 / 27, model.Probability([2], 0, 2), 1e-15);
        Assert.Equal(17.0 / 27, model.Probability([2], 1, 2), 1e-15);
        Assert.Equal(2.0 / 27, model.Probability([2], 2, 2), 1e-15);

        // After 1: children (1,0) 1 and (1,1) 1 sum to 2; each keeps 1 - 1/2, and 2 x 1/2 / 2 = 1/2 goes to P1.
        Assert.Equal((0.5 / 2) + (0.5 * 8 / 27), model.Probability([1], 0, 2), 1e-15);
        Assert.Equal((0.5 / 2) + (0.5 * 17 / 27), model.Probability([1], 1, 2), 1e-15);
        Assert.Equal(0.5 * 2 / 27, model.Probability([1], 2, 2), 1e-15);

        // After 0: one child (0,1) with count 2 (D2 falls back to Y = 1/2 since n3 = 0): P(2 | 0) = 1/2 / 2 x 2/27.
        Assert.Equal(0.25 * 2 / 27, model.Probability([0], 2, 2), 1e-15);

        // The order-1 model, and any model with no context (a stream's first token), uses the raw counts 2 and 3:
        // n1 = 0, so every discount is 1/2, and 2 x 1/2 / 5 goes to the uniform 1/3.
        Assert.Equal((1.5 / 5) + (0.5 * 2 / 5 / 3), model.Probability([1], 0, 1), 1e-15);
        Assert.Equal((1.5 / 5) + (0.5 * 2 / 5 / 3), model.Probability([], 0, 2), 1e-15);

        // The stream 1 0 2: -ln P(0 | 1) - ln P(2 | 0).
        double expected = -Math.Log((0.5 / 2) + (0.5 * 8 / 27)) - Math.Log(0.25 * 2 / 27);
        Assert.Equal(expected, model.TotalNats([1, 0, 2], 2), 1e-12);
    }

    [Fact]
    public void Higher_orders_predict_repetitive_text_better_and_fitting_is_deterministic()
    {
        int[] train = EnglishBytes();
        int[] held = ByteTokenizer.Instance.Encode("the cat sat on the log and the dog sat on the mat.");
        var a = KneserNeyModel.Fit(train, 256, 4);
        var b = KneserNeyModel.Fit(train, 256, 4);
        double unigram = a.TotalNats(held, 1), trigram = a.TotalNats(held, 3);
        Assert.True(trigram < 0.6 * unigram, $"trigram {trigram} vs unigram {unigram}");
        for (int order = 1; order <= 4; order++)
        {
            Assert.Equal(a.TotalNats(held, order), b.TotalNats(held, order));
        }
    }

    [Fact]
    public void Baseline_scores_the_validation_windows_and_chooses_its_order_on_training_data_only()
    {
        string text = string.Concat(Enumerable.Range(0, 60).Select(i => $"line {i % 7} of the text says {(i * 31) % 11}.\n"));
        int[] tokens = ByteTokenizer.Instance.Encode(text);
        int split = tokens.Length * 9 / 10;
        int[] train = tokens[..split], validation = tokens[split..];
        var baseline = NGramBaseline.Fit(train, validation, 256, 16, 1000, maxOrder: 6);
        int windows = (validation.Length - 1) / 16;
        Assert.Equal(windows * 16L, baseline.PredictedTokens);
        Assert.Equal(NGramBaseline.ChooseOrder(train, 256, 6), baseline.Order);

        // The same number from the model directly, window by window.
        var model = KneserNeyModel.Fit(train, 256, baseline.Order);
        double total = 0;
        for (int w = 0; w < windows; w++)
        {
            total += model.TotalNats(validation.AsSpan(w * 16, 17), baseline.Order);
        }

        Assert.Equal(total / (windows * 16), baseline.NatsPerToken, 1e-12);
        Assert.True(baseline.NatsPerToken < Math.Log(256) / 3);

        // Changing the validation text changes the score, not the order.
        validation[5] = 'Q';
        Assert.Equal(baseline.Order, NGramBaseline.Fit(train, validation, 256, 16, 1000, maxOrder: 6).Order);
    }

    [Fact]
    public void Bad_input_names_the_problem()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => KneserNeyModel.Fit([0, 3], 3, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => KneserNeyModel.Fit([0, 1], 3, 0));
        var model = KneserNeyModel.Fit([0, 1, 2], 3, 2);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Probability([0], 1, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Probability([5], 1, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Probability([0], -1, 2));
        Assert.Throws<ArgumentException>(() => model.Distribution([0], 2, new double[2]));
    }

    [Fact]
    public void Bits_per_byte_of_a_mean_loss()
    {
        // 2 nats per token over 100 GPT-2 tokens that stood for 400 bytes: 200 / (400 ln 2) bits per byte.
        Assert.Equal(200 / (400 * Math.Log(2)), Evaluation.BitsPerByte(2.0, 100, 400), 1e-15);
        Assert.Equal(1 / Math.Log(2), Evaluation.BitsPerByte(1.0, 7, 7), 1e-15);
        Assert.Equal(Encoding.UTF8.GetByteCount("é"), ByteTokenizer.Instance.Encode("é").Length);
    }
}
