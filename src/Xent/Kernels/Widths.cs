namespace Xent.Kernels;

/// <summary>Width selection per block: the widest allowed width whose vector fits the block.</summary>
internal static class Widths
{
    /// <summary>Narrows <paramref name="width"/> until one vector fits in <paramref name="length"/> elements.</summary>
    public static VectorWidth Fit(VectorWidth width, int length)
    {
        while (width != VectorWidth.Scalar && length < (int)width / 32)
        {
            width = width == VectorWidth.V512 ? VectorWidth.V256 : width == VectorWidth.V256 ? VectorWidth.V128 : VectorWidth.Scalar;
        }

        return width;
    }
}
