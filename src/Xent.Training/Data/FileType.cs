using System.Runtime.InteropServices;

namespace Xent.Training.Data;

/// <summary>
/// What a path names, asked without opening it (opening a FIFO to read waits until a writer opens it, and .NET's file
/// information says "Normal" for a FIFO, a socket or a device alike): the file type, inode and device from statx.
/// Linux only (struct statx has one layout on every architecture); elsewhere, or where statx is missing, nothing is
/// known and every path counts as regular.
/// </summary>
internal static partial class FileType
{
    /// <summary>STATX_TYPE | STATX_MODE | STATX_INO: the file type, the mode and the inode number.</summary>
    private const uint Asked = 0x1 | 0x2 | InodeBit;

    /// <summary>STATX_TYPE: set in the returned mask when the file type bits of stx_mode are valid.</summary>
    private const uint TypeBit = 0x1;

    /// <summary>STATX_INO: set in the returned mask when the inode number is valid.</summary>
    private const uint InodeBit = 0x100;

    /// <summary>AT_FDCWD: relative paths are resolved from the working directory.</summary>
    private const int AtFdCwd = -100;

    /// <summary>Whether <paramref name="path"/> (its links followed) is a FIFO, a socket or a device.</summary>
    public static bool IsSpecial(string path) =>
        TryStat(path, out var status) && status.HasType && !status.IsRegular && !status.IsDirectory;

    /// <summary>The statx of <paramref name="path"/>, its links followed; false on another OS or when it fails.</summary>
    public static unsafe bool TryStat(string path, out FileStatus status)
    {
        status = default;
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        byte* buffer = stackalloc byte[256];
        try
        {
            if (Native.Statx(AtFdCwd, path, 0, Asked, buffer) != 0)
            {
                return false;
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }

        // stx_mask at byte 0, stx_mode at 28, stx_ino at 32, stx_dev_major/minor at 136/140.
        status = new FileStatus(*(uint*)buffer, *(ushort*)(buffer + 28), *(ulong*)(buffer + 32),
            ((ulong)*(uint*)(buffer + 136) << 32) | *(uint*)(buffer + 140));
        return true;
    }

    /// <summary>A path's statx: which fields are valid (<paramref name="Mask"/>), its mode, inode and device.</summary>
    internal readonly record struct FileStatus(uint Mask, ushort Mode, ulong Inode, ulong Device)
    {
        /// <summary>Whether the file type bits of <see cref="Mode"/> are valid.</summary>
        public bool HasType => (Mask & TypeBit) != 0;

        /// <summary>Whether <see cref="Inode"/> is valid.</summary>
        public bool HasInode => (Mask & InodeBit) != 0;

        /// <summary>S_IFREG in the S_IFMT bits (0xF000).</summary>
        public bool IsRegular => (Mode & 0xF000) == 0x8000;

        /// <summary>S_IFDIR in the S_IFMT bits.</summary>
        public bool IsDirectory => (Mode & 0xF000) == 0x4000;
    }

    private static unsafe partial class Native
    {
        [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        internal static partial int Statx(int directory, string path, int flags, uint mask, byte* buffer);
    }
}
