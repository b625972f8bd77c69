using System.Diagnostics;

namespace Xent.Benchmarks;

/// <summary>
/// Warm-up past tiered compilation, for tools that time library calls. The kernels are compiled optimised from their
/// first call, but the per-call, per-row and per-block driver code around them starts at tier 0 and is promoted only
/// after 30 calls, counted once no method has been compiled for 100 ms. A tool that times its cases before that
/// measures tier-0 drivers: 5-25% slower than a user's steady calls (kernel-compute, one Zen 5 core).
/// </summary>
internal static class TierUp
{
    /// <summary>
    /// Runs every case in turn at least 40 times and for at least <paramref name="seconds"/>, with a pause for the
    /// background compile after the 40th round.
    /// </summary>
    public static void Warm(IReadOnlyList<Action> cases, double seconds = 1)
    {
        var clock = Stopwatch.StartNew();
        for (int round = 0; round < 40 || clock.Elapsed.TotalSeconds < seconds; round++)
        {
            foreach (var call in cases)
            {
                call();
            }

            if (round == 40)
            {
                Thread.Sleep(200);
            }
        }
    }
}
