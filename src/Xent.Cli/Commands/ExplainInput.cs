using System.Globalization;
using Xent.Cli.IO;
using Xent.Cli.Terminal;

namespace Xent.Cli.Commands;

/// <summary>
/// The one row <c>xent explain</c> walks through: logits [V] typed on the command line or read from row K of a file,
/// its target, and the class weights [V]; every problem is a message naming the flag or the file.
/// </summary>
internal sealed record ExplainInput(float[] Logits, int Target, float[]? Weights, string Source)
{
    /// <summary>(option, path) of every input read from a file, which no output may overwrite.</summary>
    public IReadOnlyList<(string Option, string Path)> Files { get; init; } = [];

    public static ExplainInput Load(ExplainSettings s)
    {
        string text = s.Logits!;
        var inline = File.Exists(text) ? null : ParseList(text, "--logits");
        ExplainInput input = inline is not null ? FromList(s, inline) : FromFile(s, text);
        if (s.Weights is not null)
        {
            bool file = File.Exists(s.Weights);
            var weights = file ? LossInputs.ReadWeights(s.Weights, input.Logits.Length) : ParseList(s.Weights, "--weights");
            if (weights.Length != input.Logits.Length)
            {
                throw new XentCliException($"--weights has {weights.Length} values, but the row has V = {input.Logits.Length} classes: give one weight per class.");
            }

            input = input with { Weights = weights, Files = file ? [.. input.Files, ("--weights", s.Weights)] : input.Files };
        }

        return input;
    }

    private static ExplainInput FromList(ExplainSettings s, float[] logits)
    {
        if (s.Targets is not null)
        {
            throw new XentCliException("--targets is for a logits file; with comma-separated --logits give --target Y.");
        }

        if (s.Target is not { } y)
        {
            throw new XentCliException("--target Y is required with comma-separated --logits (the class whose loss to explain).");
        }

        if (s.Row is not null)
        {
            throw new XentCliException("--row picks a row of a logits file; comma-separated --logits are one row already.");
        }

        CheckTarget(y, logits.Length, s.IgnoreIndex, "--target");
        return new ExplainInput(logits, y, null, "--logits");
    }

    private static ExplainInput FromFile(ExplainSettings s, string path)
    {
        if (s.Target is not null)
        {
            throw new XentCliException("--target is for comma-separated --logits; with a logits file give --targets FILE and --row K.");
        }

        var info = ArrayFiles.Open(path, "logits");
        LossInputs.CheckLogits(info);
        int v = (int)info.Shape[^1];
        long rows = info.Count / v;
        long k = s.Row ?? 0;
        if (k >= rows)
        {
            throw new XentCliException($"--row {k} is outside the {rows} rows of {path} (shape {info.ShapeText}).");
        }

        string targetsPath = s.Targets ?? (ArrayFiles.IsSafeTensors(path) ? path : throw new XentCliException("--targets FILE is required with a logits file (or a safetensors --logits holding 'targets')."));
        int y = LossInputs.ReadTargets(targetsPath, info, s.IgnoreIndex).Targets[k];
        var row = new float[v];
        using (var mapped = MappedArray.Open(info))
        {
            unsafe
            {
                fixed (float* to = row)
                {
                    LogitsData.Convert(mapped.Data + (k * v * info.Type.Size()), info.Type, to, v);
                }
            }
        }

        return new ExplainInput(row, y, null, $"{path} row {k} (index {SmallArrays.Index(info.Shape[..^1], k)})")
        {
            Files = [("--logits", path), (s.Targets is null ? "--logits" : "--targets", targetsPath)],
        };
    }

    private static void CheckTarget(int y, int classes, int ignoreIndex, string where)
    {
        if (y != ignoreIndex && (uint)y >= (uint)classes)
        {
            throw new XentCliException($"{where}: target {y} is outside [0, {classes}) and is not the ignore index {ignoreIndex}.");
        }
    }

    /// <summary>Comma-separated numbers (Infinity, -Infinity and NaN allowed); the flag is named when one is not a number.</summary>
    private static float[] ParseList(string text, string flag)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = new float[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]))
            {
                string hint = parts.Length == 1 ? " and is not an existing file" : string.Empty;
                throw new XentCliException($"{flag}: '{parts[i]}' is not a number{hint} (give comma-separated numbers such as 2.0,1.0,0.1, or a file).");
            }
        }

        return values;
    }
}
