using System.Diagnostics;

namespace Xent.Baselines;

/// <summary>
/// What <see cref="Timing"/> reads: the clock (in <see cref="Stopwatch"/> ticks) and the process's count of
/// JIT-compiled methods. Tests give it their own, so that a check of when timing starts does not depend on how the
/// scheduler treats the test on a loaded machine.
/// </summary>
/// <param name="Timestamp">The clock, in <see cref="Stopwatch"/> ticks.</param>
/// <param name="CompiledMethods">Methods compiled so far.</param>
internal sealed record TimingSources(Func<long> Timestamp, Func<long> CompiledMethods)
{
    /// <summary>The machine's clock and the runtime's count.</summary>
    public static TimingSources System { get; } = new(Stopwatch.GetTimestamp, () => global::System.Runtime.JitInfo.GetCompiledMethodCount());

    /// <summary>Seconds from <paramref name="start"/> (a <see cref="Timestamp"/>) to now.</summary>
    public double SecondsSince(long start) => Stopwatch.GetElapsedTime(start, Timestamp()).TotalSeconds;
}
