using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Xent.Baselines;

/// <summary>
/// CPU time, which the other programs of a shared machine disturb far less than wall time: the process's (all threads)
/// or the calling thread's, in nanoseconds (Linux: clock_gettime's CLOCK_PROCESS_CPUTIME_ID and CLOCK_THREAD_CPUTIME_ID;
/// elsewhere the process's total, in 100 ns ticks, for both).
/// </summary>
public static partial class CpuTime
{
    private const int ProcessClock = 2, ThreadClock = 3;

    /// <summary>The process's CPU time, all threads, in nanoseconds.</summary>
    public static long ProcessNanoseconds() => Read(ProcessClock);

    /// <summary>The calling thread's CPU time in nanoseconds (the process's where there is no thread clock).</summary>
    public static long ThreadNanoseconds() => Read(ThreadClock);

    /// <summary><see cref="ProcessNanoseconds"/> in milliseconds.</summary>
    public static double ProcessMilliseconds() => ProcessNanoseconds() / 1e6;

    /// <summary><see cref="ThreadNanoseconds"/> in milliseconds.</summary>
    public static double ThreadMilliseconds() => ThreadNanoseconds() / 1e6;

    private static long Read(int clock) =>
        OperatingSystem.IsLinux() && ClockGetTime(clock, out var t) == 0
            ? (t.Seconds * 1_000_000_000L) + t.Nanoseconds
            : Process.GetCurrentProcess().TotalProcessorTime.Ticks * 100;

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec time);

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
