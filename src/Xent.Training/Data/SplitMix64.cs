namespace Xent.Training.Data;

/// <summary>
/// A tiny counter-based random source (SplitMix64). Used instead of <see cref="Random"/> so that a batch
/// is a pure function of (seed, step): a resumed run draws exactly the batches the original would have.
/// </summary>
internal struct SplitMix64
{
    private ulong state;

    public SplitMix64(ulong seed) => state = seed;

    /// <summary>A generator for one (seed, stream, index) triple, decorrelated by mixing each part.</summary>
    public static SplitMix64 For(long seed, long stream, long index)
    {
        var g = new SplitMix64(unchecked((ulong)seed));
        ulong a = g.NextUInt64() ^ unchecked((ulong)stream * 0x9E3779B97F4A7C15UL);
        g = new SplitMix64(a);
        ulong b = g.NextUInt64() ^ unchecked((ulong)index * 0xD1B54A32D192ED03UL);
        return new SplitMix64(b);
    }

    public ulong NextUInt64()
    {
        unchecked
        {
            ulong z = state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, bound); the modulo bias is below 2^-40 for the bounds used here.</summary>
    public long NextInt64(long bound)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bound);
        return (long)(NextUInt64() % (ulong)bound);
    }
}
