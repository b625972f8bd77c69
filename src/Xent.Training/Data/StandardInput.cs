namespace Xent.Training.Data;

/// <summary>
/// Whether the process was started with standard input closed (<c>&lt;&amp;-</c>). The runtime then opens a pipe of its
/// own at startup, which takes the lowest free descriptor, 0: /dev/stdin names that pipe, which nothing ever writes
/// to, and a read of it waits forever. A descriptor inherited as standard input cannot be close-on-exec (exec closed
/// it otherwise), so descriptor 0 marked so was opened by this process after it started: its own, not a standard input.
/// </summary>
internal static class StandardInput
{
    // O_CLOEXEC as /proc/PID/fdinfo prints a descriptor's flags (octal) on Linux.
    private const int CloseOnExec = 0x80000;

    /// <summary>The names a path to standard input goes by on Linux.</summary>
    public static bool IsNamedBy(string path) =>
        path is "/dev/stdin" or "/dev/fd/0" or "/proc/self/fd/0" or "/proc/thread-self/fd/0";

    /// <summary>Whether descriptor 0 is not the standard input the process was given (it was closed); false where unknown.</summary>
    public static bool WasClosed()
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            foreach (string line in File.ReadLines("/proc/self/fdinfo/0"))
            {
                if (line.StartsWith("flags:", StringComparison.Ordinal))
                {
                    int flags = Convert.ToInt32(line["flags:".Length..].Trim(), 8);
                    return (flags & CloseOnExec) != 0;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            // No /proc, or descriptor 0 not open at all (then /dev/stdin cannot be opened either, and says so).
        }

        return false;
    }
}
