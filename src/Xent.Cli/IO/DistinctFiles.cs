using Xent.Cli.Terminal;

namespace Xent.Cli.IO;

/// <summary>
/// Refuses outputs that would overwrite an input or another output: every output is compared with every input
/// and every other output as files (<see cref="FileIdentity"/>: the same file by any path, links included).
/// </summary>
internal static class DistinctFiles
{
    /// <summary>Throws an exit-2 error naming both options when an output is the same file as an input or another output.</summary>
    /// <param name="inputs">(option, path) of each input; one file may appear under several options (a safetensors --input).</param>
    /// <param name="outputs">(option, path) of each output; null paths are skipped.</param>
    public static void Check(IReadOnlyList<(string Option, string Path)> inputs, IReadOnlyList<(string Option, string? Path)> outputs)
    {
        var inputIds = inputs.Select(i => (i.Option, i.Path, Id: FileIdentity.Of(i.Path))).ToList();
        var seen = new List<(string Option, string Path, FileIdentity Id)>();
        foreach (var (option, path) in outputs)
        {
            if (path is null)
            {
                continue;
            }

            var id = FileIdentity.Of(path);
            foreach (var input in inputIds)
            {
                if (id.SameFileAs(input.Id))
                {
                    throw XentCliException.InFile(path, $"{option} would overwrite the input {input.Option} {input.Path} (the same file); write the output to another file.");
                }
            }

            foreach (var other in seen)
            {
                if (id.SameFileAs(other.Id))
                {
                    throw XentCliException.InFile(path, $"{option} and {other.Option} {other.Path} are the same file; give each output its own file.");
                }
            }

            seen.Add((option, path, id));
        }
    }
}
