using Xent.Training.Baselines;
using Xent.Training.Data;

namespace Xent.Tests.Baselines;

/// <summary><see cref="NGramBaseline.FitOnBytes"/>: the byte-level baseline of a run on learned BPE tokens.</summary>
public sealed class ByteBaselineTests
{
    private const string Text =
        "the cat sat on the mat. the dog sat on the log. a cat and a dog met on the mat and sat. " +
        "then the dog ran off the mat and the cat sat alone on the log by the mat. ";

    [Fact]
    public void With_no_merges_it_is_the_byte_baseline()
    {
        // An encoding without merges has one token per byte: the same windows, the same model, the same numbers.
        var bpe = new BpeTokenizer([]);
        int[] train = bpe.Encode(string.Concat(Enumerable.Repeat(Text, 6)));
        int[] validation = bpe.Encode(Text + Text);
        var onBytes = NGramBaseline.FitOnBytes(bpe, train, validation, 32, 8);
        var plain = NGramBaseline.Fit(train, validation, 256, 32, 8);
        Assert.Equal(plain, onBytes);
    }

    [Fact]
    public void With_merges_it_scores_the_predicted_tokens_bytes_from_the_bytes_before_them_in_the_window()
    {
        var bpe = BpeTokenizer.Learn(Text, 300);
        string trainText = string.Concat(Enumerable.Repeat(Text, 6));
        int[] train = bpe.Encode(trainText);
        int[] validation = bpe.Encode(Text + Text);
        const int seq = 16;
        var baseline = NGramBaseline.FitOnBytes(bpe, train, validation, seq, 3);

        // The same sum written out: window w holds tokens [w T, w T + T]; its first token's bytes are context only.
        int[] bytes = [.. bpe.Bytes(train).Select(b => (int)b)];
        int order = NGramBaseline.ChooseOrder(bytes, 256, NGramBaseline.DefaultMaxOrder);
        var model = KneserNeyModel.Fit(bytes, 256, order);
        double total = 0;
        for (int w = 0; w < 3; w++)
        {
            int[] window = validation[(w * seq)..((w * seq) + seq + 1)];
            int[] windowBytes = [.. bpe.Bytes(window).Select(b => (int)b)];
            int context = bpe.Bytes(window[..1]).Length;
            for (int i = context; i < windowBytes.Length; i++)
            {
                total -= Math.Log(model.Probability(windowBytes[..i], windowBytes[i], order));
            }
        }

        Assert.Equal(order, baseline.Order);
        Assert.Equal(3 * seq, baseline.PredictedTokens);
        Assert.Equal(total / (3 * seq), baseline.NatsPerToken, 1e-12);
    }
}
