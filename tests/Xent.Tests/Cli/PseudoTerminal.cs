using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Xent.Tests.Cli;

/// <summary>
/// A pseudo-terminal (Linux) for a child's output: its other end is read and thrown away until <see cref="Close"/>,
/// after which every write to the terminal fails with EIO, as when an ssh session drops.
/// </summary>
internal sealed partial class PseudoTerminal : IDisposable
{
    private const int ReadWrite = 2;
    private const int NoControllingTerminal = 0x100;

    // Not inherited: a child holding the master too would keep the terminal up after Close.
    private const int CloseOnExec = 0x80000;

    private const short PollIn = 1;

    private readonly SafeFileHandle master;
    private readonly Thread drain;
    private bool closing;

    private PseudoTerminal(SafeFileHandle master, string path)
    {
        this.master = master;
        Path = path;
        drain = new Thread(() =>
        {
            // Polled, so that Close never waits on a read held open (a read in progress keeps the handle, and with it the
            // terminal, alive until the child's next write).
            var buffer = new byte[4096];
            int fd = (int)master.DangerousGetHandle();
            var poll = new PollFd { Fd = fd, Events = PollIn };
            while (!Volatile.Read(ref closing))
            {
                int ready = Poll(ref poll, 1, 20);
                if (ready > 0 && (Read(fd, buffer, buffer.Length) <= 0))
                {
                    return;
                }
            }
        })
        { IsBackground = true };
        drain.Start();
    }

    /// <summary>The terminal's device (/dev/pts/N), for the child to write to.</summary>
    public string Path { get; }

    public static PseudoTerminal Open()
    {
        int fd = PosixOpenPt(ReadWrite | NoControllingTerminal | CloseOnExec);
        if (fd < 0 || GrantPt(fd) != 0 || UnlockPt(fd) != 0)
        {
            throw new IOException($"no pseudo-terminal (errno {Marshal.GetLastPInvokeError()})");
        }

        var handle = new SafeFileHandle(fd, ownsHandle: true);
        string path = Marshal.PtrToStringUTF8(PtsName(fd)) ?? throw new IOException("ptsname failed");
        return new PseudoTerminal(handle, path);
    }

    /// <summary>Hangs the terminal up: the other end is closed.</summary>
    public void Close()
    {
        Volatile.Write(ref closing, true);
        drain.Join();
        master.Dispose();
    }

    public void Dispose() => Close();

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(ref PollFd fds, nuint count, int timeoutMs);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint Read(int fd, byte[] buffer, nint count);

    [LibraryImport("libc", EntryPoint = "posix_openpt", SetLastError = true)]
    private static partial int PosixOpenPt(int flags);

    [LibraryImport("libc", EntryPoint = "grantpt", SetLastError = true)]
    private static partial int GrantPt(int fd);

    [LibraryImport("libc", EntryPoint = "unlockpt", SetLastError = true)]
    private static partial int UnlockPt(int fd);

    [LibraryImport("libc", EntryPoint = "ptsname", SetLastError = true)]
    private static partial IntPtr PtsName(int fd);
}
