using Xent.Training.Model;

namespace Xent.Training.Data;

/// <summary>
/// The loss of a long token stream with a sliding window, as Hugging Face's perplexity guide computes it: windows of
/// at most T tokens start every S tokens, and each window scores only the targets no earlier window scored, so every
/// token but the first is predicted exactly once, from at least T - S tokens of context once the first window is
/// past. S = T gives disjoint windows; a smaller S gives each prediction more context at T / S times the work.
/// One window is evaluated at a time, so memory is that of one window, whatever the stream's length.
/// </summary>
public static class StridedEvaluation
{
    /// <summary>Total loss and count of the predicted tokens (stream[1..], N - 1 of them).</summary>
    /// <param name="model">The model (forward only; its fused loss head).</param>
    /// <param name="stream">Tokens [N], N &gt;= 2, each in [0, V).</param>
    /// <param name="window">T in [1, the model's context length].</param>
    /// <param name="stride">S in [1, T].</param>
    /// <returns>The summed nats over the N - 1 predicted tokens, and N - 1.</returns>
    public static (double TotalNats, long Predicted) Loss(GptModel model, ReadOnlySpan<int> stream, int window, int stride)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (stream.Length < 2)
        {
            throw new ArgumentException($"The stream needs at least 2 tokens, got {stream.Length}.", nameof(stream));
        }

        if (window < 1 || window > model.Config.ContextLength)
        {
            throw new ArgumentOutOfRangeException(nameof(window), window, $"The window must be in [1, {model.Config.ContextLength}] (the context length).");
        }

        if (stride < 1 || stride > window)
        {
            throw new ArgumentOutOfRangeException(nameof(stride), stride, $"The stride must be in [1, {window}] (the window): a larger one would skip tokens.");
        }

        int ignore = model.LossOptions.IgnoreIndex;
        int last = stream.Length - 1;
        var targets = new int[window];
        double total = 0;
        int scored = 0; // targets stream[1..scored] are done
        for (int begin = 0; ; begin += stride)
        {
            int length = Math.Min(window, last - begin);
            int fresh = begin + length - scored;
            for (int i = 0; i < length; i++)
            {
                targets[i] = i >= length - fresh ? stream[begin + i + 1] : ignore;
            }

            float mean = model.Loss(stream.Slice(begin, length), targets.AsSpan(0, length), 1, length);
            total += (double)mean * fresh;
            scored = begin + length;
            if (scored == last)
            {
                return (total, last);
            }
        }
    }
}
