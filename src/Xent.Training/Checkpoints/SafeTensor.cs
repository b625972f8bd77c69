namespace Xent.Training.Checkpoints;

/// <summary>One F32 tensor of a safetensors file: a name, a row-major shape and its elements.</summary>
/// <param name="Name">Unique name; "__metadata__" is reserved by the format.</param>
/// <param name="Shape">Dimensions, outermost first; empty for a scalar.</param>
/// <param name="Data">The product of <paramref name="Shape"/> elements, row-major.</param>
public sealed record SafeTensor(string Name, int[] Shape, float[] Data)
{
    /// <summary>Number of elements the shape holds (1 for a scalar).</summary>
    public long ElementCount => Shape.Aggregate(1L, (n, d) => n * d);
}
