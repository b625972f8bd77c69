namespace Xent.Cli.IO;

/// <summary>The element types xent reads and writes (all little-endian).</summary>
internal enum ElementType
{
    Float16,
    BFloat16,
    Float32,
    Float64,
    Int32,
    Int64,
}

internal static class ElementTypes
{
    public static int Size(this ElementType type) => type switch
    {
        ElementType.Float16 or ElementType.BFloat16 => 2,
        ElementType.Float32 or ElementType.Int32 => 4,
        ElementType.Float64 or ElementType.Int64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    public static bool IsFloat(this ElementType type) => type is not (ElementType.Int32 or ElementType.Int64);

    /// <summary>NumPy's name of the type, as users know it.</summary>
    public static string Name(this ElementType type) => type switch
    {
        ElementType.Float16 => "float16",
        ElementType.BFloat16 => "bfloat16",
        ElementType.Float32 => "float32",
        ElementType.Float64 => "float64",
        ElementType.Int32 => "int32",
        ElementType.Int64 => "int64",
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };
}
