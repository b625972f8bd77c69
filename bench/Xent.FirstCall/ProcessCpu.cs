using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Xent.FirstCall;

/// <summary>The process's CPU time, all threads: steadier than wall time on a loaded machine.</summary>
internal static partial class ProcessCpu
{
    /// <summary>Milliseconds of CPU (Linux: CLOCK_PROCESS_CPUTIME_ID, ns resolution; elsewhere the process's total).</summary>
    public static double Ms()
    {
        if (OperatingSystem.IsLinux() && ClockGetTime(2, out var t) == 0)
        {
            return (t.Seconds * 1e3) + (t.Nanoseconds / 1e6);
        }

        return Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec time);

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
