using System.Diagnostics;
using System.Globalization;

namespace Xent.Training.Checkpoints;

/// <summary>
/// Names of the temporary files a writer fills before renaming them into place (".NAME.PID-GUID.xent-tmp" beside
/// NAME), and removal of those left by killed processes: a file whose PID is no longer running can be no one's
/// work in progress.
/// </summary>
internal static class TemporaryFiles
{
    private const string Suffix = ".xent-tmp";

    /// <summary>A fresh temporary name beside <paramref name="path"/>, hidden (leading dot) and carrying this process's id.</summary>
    /// <param name="path">The file the temporary one will be renamed to.</param>
    public static string For(string path)
    {
        string full = Path.GetFullPath(path);
        string pid = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        return Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{pid}-{Guid.NewGuid():N}{Suffix}");
    }

    /// <summary>Whether <paramref name="fileName"/> is a temporary file name of this scheme.</summary>
    /// <param name="fileName">A file name without folder.</param>
    public static bool IsTemporary(string fileName) =>
        fileName.StartsWith('.') && fileName.EndsWith(Suffix, StringComparison.Ordinal);

    /// <summary>Deletes the temporary files beside <paramref name="path"/> whose writing process is gone; returns how many.</summary>
    /// <param name="path">The destination whose temporaries to look for.</param>
    public static int RemoveStale(string path)
    {
        string full = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(full)!;
        string prefix = $".{Path.GetFileName(full)}.";
        List<string> candidates;
        try
        {
            candidates = Directory.EnumerateFiles(folder, prefix + "*" + Suffix).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }

        int removed = 0;
        foreach (string stale in candidates)
        {
            string middle = Path.GetFileName(stale)[prefix.Length..^Suffix.Length];
            int dash = middle.IndexOf('-', StringComparison.Ordinal);
            if (dash <= 0 || !int.TryParse(middle.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) || Alive(pid))
            {
                continue;
            }

            try
            {
                File.Delete(stale);
                removed++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Someone else's file, or already gone: nothing to insist on.
            }
        }
        return removed;
    }

    private static bool Alive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            return false;
        }
    }
}
