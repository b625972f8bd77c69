using System.Runtime.InteropServices;

namespace Xent.Training.Checkpoints;

/// <summary>
/// fsync of a folder, which makes the renames done in it survive a power loss: on ext4 or XFS a file fsynced and then
/// renamed may, after a crash, be back under its temporary name (or the earlier file back in place) until the folder
/// itself is flushed. .NET has no API for it (a folder cannot be opened as a FileStream or through File.OpenHandle),
/// hence open(2), fsync(2) and close(2) from libc.
/// </summary>
/// <remarks>
/// Windows is skipped: FlushFileBuffers needs a handle opened for writing, which a folder gives only to a process
/// holding the backup privilege, and NTFS journals a rename as part of its metadata.
/// </remarks>
internal static partial class FolderSync
{
    private const int PermissionDenied = 13; // EACCES
    private const int NotPermitted = 1; // EPERM
    private const int InvalidArgument = 22; // EINVAL
    private const int Interrupted = 4; // EINTR

    /// <summary>
    /// Flushes <paramref name="folder"/>'s entries to disk. A file system that cannot fsync a folder (EINVAL or
    /// ENOTSUP) and a folder this user may not open for reading (write and search permission suffice for a rename)
    /// are let be: nothing can be done there, and the files themselves are on disk.
    /// </summary>
    /// <param name="folder">An existing folder.</param>
    /// <exception cref="IOException">The folder cannot be opened or flushed (EIO: the disk failed); its HResult is the errno.</exception>
    public static void Flush(string folder)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            return;
        }

        int fd;
        try
        {
            fd = Native.Open(folder, CloseOnExec);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return;
        }

        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno is PermissionDenied or NotPermitted)
            {
                return;
            }

            throw Failure(errno, folder, "opening");
        }

        try
        {
            int result;
            int errno;
            do
            {
                result = Native.Fsync(fd);
                errno = result == 0 ? 0 : Marshal.GetLastPInvokeError();
            }
            while (result != 0 && errno == Interrupted);

            if (result != 0 && errno != InvalidArgument && errno != NotSupported)
            {
                throw Failure(errno, folder, "flushing");
            }
        }
        finally
        {
            _ = Native.Close(fd);
        }
    }

    // O_CLOEXEC: a process started meanwhile does not inherit the descriptor. O_RDONLY is 0 on both.
    private static int CloseOnExec => OperatingSystem.IsMacOS() ? 0x1000000 : 0x80000;

    // ENOTSUP (EOPNOTSUPP on Linux).
    private static int NotSupported => OperatingSystem.IsMacOS() ? 45 : 95;

    // As .NET words an errno: its strerror text, with the errno as HResult (FileProblems reads ENOSPC and EROFS so).
    private static IOException Failure(int errno, string folder, string doing) =>
        new($"{Marshal.GetPInvokeErrorMessage(errno)} ({doing} the folder '{folder}' to flush its renamed files to disk)", errno);

    private static partial class Native
    {
        [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        internal static partial int Open(string path, int flags);

        [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
        internal static partial int Fsync(int fd);

        [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
        internal static partial int Close(int fd);
    }
}
