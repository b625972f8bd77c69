using Xent.Kernels;

namespace Xent.Baselines;

/// <summary>Splits a length into contiguous, nearly equal parts, one per thread.</summary>
internal static class Parts
{
    public static (int Start, int End) Range(int length, int parts, int p) =>
        ((int)((long)length * p / parts), (int)((long)length * (p + 1) / parts));

    /// <summary>
    /// At most the core count, as Xent caps its threads: a baseline dealt into one part per asked thread would time
    /// the dealing of empty parts (minutes for 99999999 threads) against a kernel on every core.
    /// </summary>
    public static int AtMostTheCores(int threads) => Math.Min(threads, CoresOverride.Value ?? Environment.ProcessorCount);

    private static readonly AsyncOverride<int> CoresOverride = new();

    /// <summary>
    /// For tests: the cores <see cref="AtMostTheCores"/> caps at, for the calling flow. A ranking's tests over 1 and 2
    /// threads counted one thread count, not two, on a one-core machine.
    /// </summary>
    internal static AsyncOverride<int>.Scope OverrideCores(int cores) => CoresOverride.Set(cores);
}
