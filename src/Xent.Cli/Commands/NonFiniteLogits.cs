using Xent.Cli.IO;

namespace Xent.Cli.Commands;

/// <summary>
/// Where the logits hold NaN or infinities: counts of each kind and the first position of each. The loss follows
/// PyTorch whatever they hold (NaN and +inf propagate; -inf is a masked class); this only tells the user where
/// a non-finite result comes from.
/// </summary>
internal sealed record NonFiniteLogits(long NaN, long PositiveInfinity, long NegativeInfinity, long FirstNaNOrPositive, long FirstNegative)
{
    /// <summary>Elements per parallel chunk.</summary>
    private const int Chunk = 1 << 20;

    /// <summary>NaN and +inf: values that make their row's loss non-finite.</summary>
    public long Poisoned => NaN + PositiveInfinity;

    /// <summary>Scans all of <paramref name="logits"/> (one read, over threads).</summary>
    public static unsafe NonFiniteLogits Scan(LogitsData logits)
    {
        long count = logits.Length;
        long chunks = (count + Chunk - 1) / Chunk;
        var parts = new NonFiniteLogits[chunks];
        nint address = (nint)logits.Pointer;
        bool half = logits.IsHalf, bfloat16 = logits.IsBFloat16;
        Parallel.For(0L, chunks, c =>
        {
            long start = c * Chunk;
            int n = (int)Math.Min(Chunk, count - start);
            parts[c] = half ? ScanChunk(new ReadOnlySpan<Half>((Half*)address + start, n), start)
                : bfloat16 ? ScanChunk(new ReadOnlySpan<BFloat16>((BFloat16*)address + start, n), start)
                : ScanChunk(new ReadOnlySpan<float>((float*)address + start, n), start);
        });

        // Merged in chunk order, so the first positions are the lowest whatever the thread timing.
        var total = None;
        foreach (var p in parts)
        {
            total = Then(total, p);
        }

        return total;
    }

    private static NonFiniteLogits None => new(0, 0, 0, -1, -1);

    /// <summary>The counts of <paramref name="first"/> and <paramref name="next"/>, which follows it in the logits.</summary>
    private static NonFiniteLogits Then(NonFiniteLogits first, NonFiniteLogits next) => new(
        first.NaN + next.NaN,
        first.PositiveInfinity + next.PositiveInfinity,
        first.NegativeInfinity + next.NegativeInfinity,
        first.FirstNaNOrPositive >= 0 ? first.FirstNaNOrPositive : next.FirstNaNOrPositive,
        first.FirstNegative >= 0 ? first.FirstNegative : next.FirstNegative);

    /// <summary>
    /// bfloat16 logits (read in place: 2 bytes each, not float32) as the floats they widen to exactly, a block
    /// at a time.
    /// </summary>
    private static NonFiniteLogits ScanChunk(ReadOnlySpan<BFloat16> values, long offset)
    {
        Span<float> widened = stackalloc float[4096];
        var total = None;
        for (int start = 0; start < values.Length; start += widened.Length)
        {
            int n = Math.Min(widened.Length, values.Length - start);
            BFloat16.ConvertToSingle(values.Slice(start, n), widened[..n]);
            total = Then(total, ScanChunk<float>(widened[..n], offset + start));
        }

        return total;
    }

    private static NonFiniteLogits ScanChunk<T>(ReadOnlySpan<T> values, long offset)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        long nan = 0, positive = 0, negative = 0, firstPoisoned = -1, firstNegative = -1;
        for (int i = 0; i < values.Length; i++)
        {
            T x = values[i];
            if (T.IsFinite(x))
            {
                continue;
            }

            if (T.IsNegativeInfinity(x))
            {
                negative++;
                firstNegative = firstNegative >= 0 ? firstNegative : offset + i;
            }
            else
            {
                nan += T.IsNaN(x) ? 1 : 0;
                positive += T.IsNaN(x) ? 0 : 1;
                firstPoisoned = firstPoisoned >= 0 ? firstPoisoned : offset + i;
            }
        }

        return new NonFiniteLogits(nan, positive, negative, firstPoisoned, firstNegative);
    }
}
