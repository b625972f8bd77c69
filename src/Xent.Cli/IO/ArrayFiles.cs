using Xent.Cli.Terminal;

namespace Xent.Cli.IO;

/// <summary>Opens an input array, telling .npy from safetensors by the file's first bytes.</summary>
internal static class ArrayFiles
{
    /// <summary>True when <paramref name="path"/> is a safetensors file (by content, else by extension).</summary>
    public static bool IsSafeTensors(string path)
    {
        using var stream = OpenRead(path);
        Span<byte> prefix = stackalloc byte[9];
        int got = stream.ReadAtLeast(prefix, prefix.Length, throwOnEndOfStream: false);
        if (NpyFormat.HasMagic(prefix[..got]))
        {
            return false;
        }

        return SafeTensorsFormat.LooksLike(prefix[..got], stream.Length)
            || path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// The array in <paramref name="path"/>: the whole .npy file, or the tensor <paramref name="tensor"/> of a
    /// safetensors file. Validates the header and that the file holds all the data.
    /// </summary>
    public static ArrayInfo Open(string path, string tensor) =>
        IsSafeTensors(path) ? SafeTensorsFormat.ReadTensor(path, tensor) : NpyFormat.ReadHeader(path);

    /// <summary>Opens a file for reading, turning "not found" and friends into one clear message naming it.</summary>
    public static FileStream OpenRead(string path)
    {
        if (Directory.Exists(path))
        {
            throw XentCliException.InFile(path, "is a directory, not a file.");
        }

        if (!File.Exists(path))
        {
            throw XentCliException.InFile(path, "no such file.");
        }

        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw XentCliException.InFile(path, $"cannot open: {e.Message}");
        }

        // A pipe (`--logits <(python make.py)`, a FIFO) has no length and cannot be seeked or mapped.
        if (!stream.CanSeek)
        {
            stream.Dispose();
            throw XentCliException.InFile(path, "is a pipe, not a file: xent reads an input's header and then maps its data, which a pipe cannot give; save the array to a file first.");
        }

        return stream;
    }
}
