using System.Runtime.InteropServices;

namespace Xent.Training.Data;

/// <summary>
/// Whether a path names something other than a regular file or a folder (a FIFO, a socket, a device), asked without
/// opening it: opening a FIFO to read waits until a writer opens it, and .NET's file information says "Normal" for
/// all of these. Linux only (statx, whose struct has one layout on every architecture); elsewhere, or where statx is
/// missing, every path counts as regular.
/// </summary>
internal static partial class FileType
{
    /// <summary>STATX_TYPE: the file type bits of stx_mode, set in the returned mask when they are valid.</summary>
    private const uint StatxType = 0x1;

    /// <summary>AT_FDCWD: relative paths are resolved from the working directory.</summary>
    private const int AtFdCwd = -100;

    /// <summary>Whether <paramref name="path"/> (its links followed) is a FIFO, a socket or a device.</summary>
    public static unsafe bool IsSpecial(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        byte* buffer = stackalloc byte[256];
        try
        {
            if (Native.Statx(AtFdCwd, path, 0, StatxType, buffer) != 0 || (*(uint*)buffer & StatxType) == 0)
            {
                return false;
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }

        // stx_mode at byte 28; in its S_IFMT bits (0xF000) S_IFREG is 0x8000 and S_IFDIR 0x4000.
        int type = *(ushort*)(buffer + 28) & 0xF000;
        return type is not (0x8000 or 0x4000);
    }

    private static unsafe partial class Native
    {
        [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        internal static partial int Statx(int directory, string path, int flags, uint mask, byte* buffer);
    }
}
