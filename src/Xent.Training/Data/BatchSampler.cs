namespace Xent.Training.Data;

/// <summary>
/// Draws random windows of T + 1 consecutive tokens from a stream: tokens = window[0..T], targets =
/// window[1..T+1]. Batch number <c>step</c> depends only on (seed, step), so a resumed run sees the same data.
/// </summary>
public sealed class BatchSampler
{
    private readonly int[] stream;
    private readonly long seed;

    /// <summary>A sampler over <paramref name="stream"/>.</summary>
    /// <param name="stream">N tokens, N at least T + 1.</param>
    /// <param name="seq">T, the window length.</param>
    /// <param name="seed">Seed of the window positions.</param>
    public BatchSampler(int[] stream, int seq, long seed)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfLessThan(seq, 1);
        if (stream.Length < seq + 1)
        {
            throw new ArgumentException($"The stream has {stream.Length} tokens, fewer than T + 1 = {seq + 1}.", nameof(stream));
        }

        this.stream = stream;
        Seq = seq;
        this.seed = seed;
    }

    /// <summary>T.</summary>
    public int Seq { get; }

    /// <summary>Fills one batch of B windows for training step <paramref name="step"/>.</summary>
    /// <param name="step">The step number (any non-negative value).</param>
    /// <param name="batch">B.</param>
    /// <param name="tokens">Destination, [B, T] row-major.</param>
    /// <param name="targets">Destination, [B, T] row-major: the token after each input token.</param>
    public void Fill(long step, int batch, Span<int> tokens, Span<int> targets)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        int t = Seq;
        if (tokens.Length != batch * t || targets.Length != batch * t)
        {
            throw new ArgumentException($"tokens and targets must both have B * T = {batch * t} elements.");
        }

        var rng = SplitMix64.For(seed, 0x42415443, step);
        long starts = stream.Length - t;
        for (int b = 0; b < batch; b++)
        {
            int start = (int)rng.NextInt64(starts);
            stream.AsSpan(start, t).CopyTo(tokens.Slice(b * t, t));
            stream.AsSpan(start + 1, t).CopyTo(targets.Slice(b * t, t));
        }
    }

    /// <summary>
    /// Non-overlapping windows covering a stream from its start (the validation set): window w holds tokens
    /// [w T, w T + T) and targets one further. At most <paramref name="maxWindows"/>; the tail that does not
    /// fill a whole window is left out.
    /// </summary>
    /// <param name="stream">N tokens, N at least T + 1.</param>
    /// <param name="seq">T.</param>
    /// <param name="maxWindows">Most windows W to return.</param>
    /// <returns>Tokens and targets, each [W, T] row-major, and W.</returns>
    public static (int[] Tokens, int[] Targets, int Windows) Sequential(int[] stream, int seq, int maxWindows)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfLessThan(seq, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxWindows, 1);
        int windows = Math.Min(maxWindows, (stream.Length - 1) / seq);
        if (windows < 1)
        {
            throw new ArgumentException($"The stream has {stream.Length} tokens, fewer than T + 1 = {seq + 1}.", nameof(stream));
        }

        var tokens = new int[windows * seq];
        var targets = new int[windows * seq];
        for (int w = 0; w < windows; w++)
        {
            stream.AsSpan(w * seq, seq).CopyTo(tokens.AsSpan(w * seq, seq));
            stream.AsSpan(w * seq + 1, seq).CopyTo(targets.AsSpan(w * seq, seq));
        }
        return (tokens, targets, windows);
    }
}
