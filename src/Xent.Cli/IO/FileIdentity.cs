using Xent.Training.Data;

namespace Xent.Cli.IO;

/// <summary>
/// Which file a path names, whatever the path: on Linux the (device, inode) pair from <c>statx</c>, so symbolic
/// links, hard links, "./a/../b" and bind mounts all compare equal; elsewhere (or for a file not yet created) the
/// full path with every symbolic link along it resolved, which still catches symbolic links but not hard links.
/// </summary>
internal readonly record struct FileIdentity(bool HasInode, ulong Device, ulong Inode, string ResolvedPath, bool IsRegular = true)
{
    /// <summary>
    /// The identity of the file at <paramref name="path"/>; for a path where no file exists yet, only its resolved
    /// full path (two outputs that will be created are compared that way).
    /// </summary>
    public static FileIdentity Of(string path)
    {
        return FileType.TryStat(path, out var status) && status.HasInode
            ? new FileIdentity(true, status.Device, status.Inode, Resolve(path), status.IsRegular)
            : new FileIdentity(false, 0, 0, Resolve(path));
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
}
