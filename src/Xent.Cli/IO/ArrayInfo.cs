namespace Xent.Cli.IO;

/// <summary>Where one array lies inside a file: its type, shape (row-major) and the byte range of its data.</summary>
/// <param name="Path">The file, as the user named it (used in every message).</param>
/// <param name="Name">The array's name: the tensor name in a safetensors file, the file name for .npy.</param>
/// <param name="Type">Element type.</param>
/// <param name="Shape">Dimensions, row-major (C order); empty for a scalar.</param>
/// <param name="DataOffset">Byte offset of the first element in the file.</param>
internal sealed record ArrayInfo(string Path, string Name, ElementType Type, long[] Shape, long DataOffset)
{
    /// <summary>Number of elements (product of the shape; 1 for a scalar).</summary>
    public long Count => ElementCount(Shape);

    /// <summary>Bytes of data.</summary>
    public long ByteLength => Count * Type.Size();

    /// <summary>The shape as Python prints it, e.g. (2, 3) or (5,).</summary>
    public string ShapeText => FormatShape(Shape);

    public static string FormatShape(ReadOnlySpan<long> shape) => shape.Length == 1
        ? $"({shape[0]},)"
        : "(" + string.Join(", ", shape.ToArray()) + ")";

    /// <summary>Product of the dimensions, checked against overflow of the byte count.</summary>
    public static long ElementCount(ReadOnlySpan<long> shape)
    {
        long count = 1;
        foreach (long d in shape)
        {
            if (d < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(shape), "negative dimension");
            }

            count = checked(count * d);
        }

        _ = checked(count * 8);
        return count;
    }
}
