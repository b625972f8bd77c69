using Xent.Training.Data;

namespace Xent.Training.Baselines;

/// <summary>
/// What counting alone achieves on a validation split: a <see cref="KneserNeyModel"/> fitted on the training
/// split and scored on the same validation windows as the network.
/// </summary>
/// <param name="Order">The n-gram order used (chosen on held-out training data, see <see cref="Fit"/>).</param>
/// <param name="NatsPerToken">Mean loss over the predicted validation tokens.</param>
/// <param name="PredictedTokens">How many validation tokens were predicted.</param>
public sealed record NGramBaseline(int Order, double NatsPerToken, long PredictedTokens)
{
    /// <summary>Longest order tried: more context than this rarely helps a count model on texts of a few MB.</summary>
    public const int DefaultMaxOrder = 8;

    /// <summary>
    /// Most training tokens counted (the last ones of the split, nearest the validation text): the trie of every
    /// n-gram up to order 8 takes about 100 bytes per token, so this bounds it near 200 MB on any text.
    /// </summary>
    public const int MaxTrainTokens = 2_000_000;

    /// <summary>Share of the training split held out to choose the order.</summary>
    public const double HeldOutFraction = 0.1;

    /// <summary>
    /// On the last <see cref="MaxTrainTokens"/> tokens of the training split (all of it when shorter):
    /// chooses the order (1..<paramref name="maxOrder"/>) that predicts the last 10% of them best
    /// when fitted on the rest, refits that order on all of them and scores the first
    /// <paramref name="maxWindows"/> windows of T + 1 validation tokens (those of <see cref="BatchSampler.Sequential"/>):
    /// in each window every token but the first is predicted from the tokens before it in the window, as the
    /// network's validation loss does. The validation tokens never influence the choice.
    /// </summary>
    /// <param name="train">Training tokens [N_train], each in [0, V).</param>
    /// <param name="validation">Validation tokens [N_val], N_val &gt;= T + 1.</param>
    /// <param name="vocabSize">V.</param>
    /// <param name="seq">T, the window length.</param>
    /// <param name="maxWindows">Most validation windows W.</param>
    /// <param name="maxOrder">Longest order tried, &gt;= 1.</param>
    public static NGramBaseline Fit(int[] train, int[] validation, int vocabSize, int seq, int maxWindows,
        int maxOrder = DefaultMaxOrder)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(validation);
        ArgumentOutOfRangeException.ThrowIfLessThan(train.Length, 2);
        if (train.Length > MaxTrainTokens)
        {
            train = train[^MaxTrainTokens..];
        }

        int order = ChooseOrder(train, vocabSize, maxOrder);
        var model = KneserNeyModel.Fit(train, vocabSize, order);
        var (tokens, targets, windows) = BatchSampler.Sequential(validation, seq, maxWindows);
        var window = new int[seq + 1];
        double total = 0;
        for (int w = 0; w < windows; w++)
        {
            tokens.AsSpan(w * seq, seq).CopyTo(window);
            window[seq] = targets[(w * seq) + seq - 1];
            total += model.TotalNats(window, order);
        }

        long predicted = (long)windows * seq;
        return new NGramBaseline(order, total / predicted, predicted);
    }

    /// <summary>
    /// The baseline of a run on <see cref="BpeTokenizer"/> tokens, counted on bytes so that it is the same model
    /// whatever the tokens: a byte-level Kneser-Ney model of the training split's bytes (order chosen as in
    /// <see cref="Fit"/>) scores the bytes of the tokens the network predicts in each validation window, each
    /// byte from the bytes before it in the window (the first token's bytes are context, as the first token is for
    /// the network). <see cref="NatsPerToken"/> is the total over those bytes divided by the predicted tokens, so
    /// it compares with the network's loss directly and converts to bits per byte the same way.
    /// </summary>
    /// <param name="tokenizer">The learned encoding the tokens are in.</param>
    /// <param name="train">Training tokens [N_train].</param>
    /// <param name="validation">Validation tokens [N_val], N_val &gt;= T + 1.</param>
    /// <param name="seq">T, the window length in tokens.</param>
    /// <param name="maxWindows">Most validation windows W.</param>
    /// <param name="maxOrder">Longest byte order tried, &gt;= 1.</param>
    public static NGramBaseline FitOnBytes(BpeTokenizer tokenizer, int[] train, int[] validation, int seq, int maxWindows,
        int maxOrder = DefaultMaxOrder)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(validation);
        int[] bytes = Widen(tokenizer.Bytes(train));
        ArgumentOutOfRangeException.ThrowIfLessThan(bytes.Length, 2, nameof(train));
        if (bytes.Length > MaxTrainTokens)
        {
            bytes = bytes[^MaxTrainTokens..];
        }

        int order = ChooseOrder(bytes, 256, maxOrder);
        var model = KneserNeyModel.Fit(bytes, 256, order);
        var (tokens, targets, windows) = BatchSampler.Sequential(validation, seq, maxWindows);
        var window = new int[seq + 1];
        double total = 0;
        for (int w = 0; w < windows; w++)
        {
            tokens.AsSpan(w * seq, seq).CopyTo(window);
            window[seq] = targets[(w * seq) + seq - 1];
            int context = (int)tokenizer.ByteCount(window.AsSpan(0, 1));
            total += model.TotalNats(Widen(tokenizer.Bytes(window)), order, context);
        }

        long predicted = (long)windows * seq;
        return new NGramBaseline(order, total / predicted, predicted);
    }

    private static int[] Widen(byte[] bytes) => [.. bytes.Select(b => (int)b)];

    /// <summary>The order with the lowest loss on the held-out end of the training split (ties: the lower order).</summary>
    /// <param name="train">Training tokens [N_train], N_train &gt;= 2.</param>
    /// <param name="vocabSize">V.</param>
    /// <param name="maxOrder">Longest order tried.</param>
    public static int ChooseOrder(int[] train, int vocabSize, int maxOrder)
    {
        ArgumentNullException.ThrowIfNull(train);
        int heldOut = Math.Max(1, (int)(train.Length * HeldOutFraction));
        var fitted = KneserNeyModel.Fit(train.AsSpan(0, train.Length - heldOut), vocabSize, maxOrder);
        var scored = train.AsSpan(train.Length - heldOut - 1);
        int best = 1;
        double bestNats = double.PositiveInfinity;
        for (int order = 1; order <= maxOrder; order++)
        {
            double nats = fitted.TotalNats(scored, order);
            if (nats < bestNats)
            {
                (best, bestNats) = (order, nats);
            }
        }

        return best;
    }
}
