using System.Runtime.InteropServices;

namespace Xent.Cli.IO;

/// <summary>
/// Which file a path names, whatever the path: on Linux the (device, inode) pair from <c>statx</c>, so symbolic
/// links, hard links, "./a/../b" and bind mounts all compare equal; elsewhere (or for a file not yet created) the
/// full path with every symbolic link along it resolved, which still catches symbolic links but not hard links.
/// </summary>
internal readonly partial record struct FileIdentity(bool HasInode, ulong Device, ulong Inode, string ResolvedPath, bool IsRegular = true)
{
    /// <summary>statx's mask bits asked for: the file type (STATX_TYPE), the mode and the inode number (STATX_INO).</summary>
    private const uint StatxMask = 0x1 | 0x2 | StatxIno;

    /// <summary>STATX_INO: set in the returned mask when the inode number is valid.</summary>
    private const uint StatxIno = 0x100;

    /// <summary>AT_FDCWD: relative paths are resolved from the working directory.</summary>
    private const int AtFdCwd = -100;

    /// <summary>
    /// The identity of the file at <paramref name="path"/>; for a path where no file exists yet, only its resolved
    /// full path (two outputs that will be created are compared that way).
    /// </summary>
    public static FileIdentity Of(string path)
    {
        bool hasInode = TryStat(path, out ulong device, out ulong inode, out bool regular);
        return new FileIdentity(hasInode, device, inode, Resolve(path), !hasInode || regular);
    }

    /// <summary>Whether both name the same file: by inode when both have one, else by resolved path.</summary>
    public bool SameFileAs(FileIdentity other)
    {
        if (HasInode && other.HasInode)
        {
            return Device == other.Device && Inode == other.Inode;
        }

        var comparison = OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        return string.Equals(ResolvedPath, other.ResolvedPath, comparison);
    }

    /// <summary>The full path with symbolic links resolved in the folder and in the file itself.</summary>
    public static string Resolve(string path)
    {
        string full = Path.GetFullPath(path);
        string? folder = Path.GetDirectoryName(full);
        string name = Path.GetFileName(full);
        if (folder is not null && Directory.Exists(folder))
        {
            folder = ResolveFolder(folder);
            full = Path.Combine(folder, name);
        }

        try
        {
            var target = File.Exists(full) ? File.ResolveLinkTarget(full, returnFinalTarget: true) : null;
            return target is null ? full : Path.GetFullPath(target.FullName);
        }
        catch (IOException)
        {
            return full;
        }
    }

    private static string ResolveFolder(string folder)
    {
        // Resolve from the root down, so a link anywhere on the way is followed.
        string? parent = Path.GetDirectoryName(folder);
        string resolvedParent = parent is null ? folder : ResolveFolder(parent);
        string here = parent is null ? folder : Path.Combine(resolvedParent, Path.GetFileName(folder));
        try
        {
            var target = Directory.ResolveLinkTarget(here, returnFinalTarget: true);
            return target is null ? here : Path.GetFullPath(target.FullName);
        }
        catch (IOException)
        {
            return here;
        }
    }

    private static unsafe bool TryStat(string path, out ulong device, out ulong inode, out bool regular)
    {
        device = 0;
        inode = 0;
        regular = true;
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        // struct statx has one layout on every Linux architecture: stx_ino at byte 32, stx_dev_major/minor at 136/140.
        byte* buffer = stackalloc byte[256];
        try
        {
            if (Native.Statx(AtFdCwd, path, 0, StatxMask, buffer) != 0 || (*(uint*)buffer & StatxIno) == 0)
            {
                return false;
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }

        inode = *(ulong*)(buffer + 32);

        // stx_mode at byte 28: S_IFREG (0x8000) in the S_IFMT bits (0xF000) for a regular file.
        regular = (*(ushort*)(buffer + 28) & 0xF000) == 0x8000;
        device = ((ulong)*(uint*)(buffer + 136) << 32) | *(uint*)(buffer + 140);
        return true;
    }

    private static unsafe partial class Native
    {
        [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        internal static partial int Statx(int directory, string path, int flags, uint mask, byte* buffer);
    }
}
