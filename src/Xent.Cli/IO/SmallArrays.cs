using Xent.Cli.Terminal;

namespace Xent.Cli.IO;

/// <summary>Reads small arrays (targets, class weights) into managed arrays.</summary>
internal static unsafe class SmallArrays
{
    /// <summary>Targets as int32; int64 values outside the int32 range are an error naming the file and position.</summary>
    public static int[] ReadTargets(ArrayInfo info)
    {
        if (info.Type is not (ElementType.Int32 or ElementType.Int64))
        {
            throw XentCliException.InFile(info.Path, $"targets must be int32 or int64 class indices, but {Describe(info)} is {info.Type.Name()}.");
        }

        if (info.Count > Array.MaxLength)
        {
            throw XentCliException.InFile(info.Path, $"{info.Count} targets are more rows than xent handles in one call ({Array.MaxLength}).");
        }

        int n = (int)info.Count;
        var targets = new int[n];
        using var mapped = MappedArray.Open(info);
        if (info.Type == ElementType.Int32)
        {
            mapped.Slice<int>(0, n).CopyTo(targets);
            return targets;
        }

        var wide = mapped.Slice<long>(0, n);
        for (int i = 0; i < n; i++)
        {
            long t = wide[i];
            if (t is < int.MinValue or > int.MaxValue)
            {
                throw XentCliException.InFile(info.Path, $"target {t} at index {Index(info.Shape, i)} does not fit in int32 (and so is outside any vocabulary).");
            }

            targets[i] = (int)t;
        }

        return targets;
    }

    /// <summary>A floating-point array of at most 2^31 elements as float32 (float64 / float16 / bfloat16 are converted).</summary>
    public static float[] ReadFloats(ArrayInfo info)
    {
        if (!info.Type.IsFloat())
        {
            throw XentCliException.InFile(info.Path, $"{Describe(info)} must be floating-point (float16, float32 or float64), not {info.Type.Name()}.");
        }

        var values = new float[checked((int)info.Count)];
        using var mapped = MappedArray.Open(info);
        fixed (float* to = values)
        {
            LogitsData.Convert(mapped.Data, info.Type, to, values.Length);
        }

        return values;
    }

    /// <summary>The multi-dimensional index of flat position <paramref name="flat"/>, as Python prints it: [1, 17].</summary>
    public static string Index(ReadOnlySpan<long> shape, long flat)
    {
        if (shape.Length == 0)
        {
            return "[]";
        }

        var idx = new long[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            long dim = Math.Max(1, shape[d]);
            idx[d] = flat % dim;
            flat /= dim;
        }

        return "[" + string.Join(", ", idx) + "]";
    }

    private static string Describe(ArrayInfo info) =>
        info.Name == Path.GetFileName(info.Path) ? "the array" : $"tensor '{info.Name}'";
}
