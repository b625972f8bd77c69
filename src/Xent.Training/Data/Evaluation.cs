using Xent.Training.Model;
namespace Xent.Training.Data;

/// <summary>Cross-entropy of a model over whole token streams (validation loss, <c>xent eval</c>).</summary>
public static class Evaluation
{
    /// <summary>
    /// Mean loss over fixed non-overlapping windows of the stream (the first <paramref name="maxWindows"/>
    /// windows of T + 1 tokens, see <see cref="BatchSampler.Sequential"/>), evaluated <paramref name="batch"/>
    /// windows at a time. The same stream, T and window count always give the same windows.
    /// </summary>
    /// <param name="model">The model (forward only).</param>
    /// <param name="stream">N tokens, N at least T + 1.</param>
    /// <param name="seq">T.</param>
    /// <param name="batch">Windows per forward pass.</param>
    /// <param name="maxWindows">Most windows W.</param>
    /// <param name="cancellationToken">Checked before each batch of windows.</param>
    /// <returns>Mean loss in nats per token.</returns>
    public static double WindowLoss(GptModel model, int[] stream, int seq, int batch, int maxWindows, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        var (tokens, targets, windows) = BatchSampler.Sequential(stream, seq, maxWindows);
        double total = 0;
        for (int w = 0; w < windows; w += batch)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int b = Math.Min(batch, windows - w);
            float mean = model.Loss(tokens.AsSpan(w * seq, b * seq), targets.AsSpan(w * seq, b * seq), b, seq);
            total += (double)mean * b * seq;
        }
        return total / ((double)windows * seq);
    }

    /// <summary>
    /// Total loss of every token of a stream but the first: windows of T + 1 tokens with stride T (the last one
    /// shorter if needed), so each token is predicted once from at most T tokens of context.
    /// </summary>
    /// <param name="model">The model (forward only).</param>
    /// <param name="stream">N tokens, N at least 2.</param>
    /// <param name="seq">T, at most the model's context length.</param>
    /// <param name="batch">Full windows per forward pass.</param>
    /// <returns>Total nats and the number of predicted tokens (N - 1).</returns>
    public static (double TotalNats, long Predicted) StreamLoss(GptModel model, int[] stream, int seq, int batch)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(stream);
        if (stream.Length < 2)
        {
            throw new ArgumentException("The stream needs at least 2 tokens.", nameof(stream));
        }

        int full = (stream.Length - 1) / seq;
        double total = 0;
        if (full > 0)
        {
            var (tokens, targets, _) = BatchSampler.Sequential(stream, seq, full);
            for (int w = 0; w < full; w += batch)
            {
                int b = Math.Min(batch, full - w);
                float mean = model.Loss(tokens.AsSpan(w * seq, b * seq), targets.AsSpan(w * seq, b * seq), b, seq);
                total += (double)mean * b * seq;
            }
        }
        int rest = stream.Length - 1 - full * seq;
        if (rest > 0)
        {
            int start = full * seq;
            float mean = model.Loss(stream.AsSpan(start, rest), stream.AsSpan(start + 1, rest), 1, rest);
            total += (double)mean * rest;
        }
        return (total, stream.Length - 1);
    }

    /// <summary>Bits per byte: total nats / (ln 2 * bytes of the predicted text).</summary>
    /// <param name="totalNats">Summed loss.</param>
    /// <param name="bytes">UTF-8 bytes of the predicted tokens.</param>
    public static double BitsPerByte(double totalNats, long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        return totalNats / (Math.Log(2) * bytes);
    }

    /// <summary>Bits per byte of a mean loss: nats per token x tokens / (ln 2 x bytes).</summary>
    /// <param name="natsPerToken">Mean loss over the tokens.</param>
    /// <param name="tokens">How many tokens the mean is over.</param>
    /// <param name="bytes">UTF-8 bytes those tokens stand for.</param>
    public static double BitsPerByte(double natsPerToken, long tokens, long bytes) => BitsPerByte(natsPerToken * tokens, bytes);
}
