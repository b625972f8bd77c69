using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Xent.Kernels;

/// <content>
/// The plain recomputing write of a 16-bit gradient, rounded in registers as each vector is stored.
/// </content>
internal static partial class GradientKernel
{
    /// <summary>
    /// Writes the plain gradient K exp(z - lse) - C1 of a block as bfloat16 or Half, each vector rounded to nearest
    /// even as it is stored (<see cref="BFloat16.Round(Vector512{uint})"/>, <see cref="HalfBits.Narrow(Vector512{float})"/>):
    /// the bits of <see cref="Write"/> into floats narrowed after, the same vectors at the same indices, without the
    /// floats' store and reload. Returns false, writing nothing, where the block is not plain (weights, probabilities,
    /// a soft cap, a K beyond float) or shorter than 4 lanes.
    /// </summary>
    /// <param name="width">The call's vector width.</param>
    /// <param name="z">The block's float logits (not <paramref name="gradient"/>'s memory).</param>
    /// <param name="element">The gradient's element: <see cref="ElementKind.BFloat16"/> or <see cref="ElementKind.Half"/>.</param>
    /// <param name="gradient">The 16-bit destination, z.Length elements.</param>
    /// <param name="c">The row's coefficients.</param>
    public static unsafe bool TryWritePlain(VectorWidth width, ReadOnlySpan<float> z, ElementKind element, ushort* gradient, in GradientCoefficients c)
    {
        if (c.InverseCap != 0f || c.KScale != 0f)
        {
            return false;
        }

        bool half = element == ElementKind.Half;
        switch (Widths.Fit(width, z.Length))
        {
            case VectorWidth.V512 when half: WritePlain<Vector512Ops, Vector512<float>, HalfLanes512>(z, gradient, c); return true;
            case VectorWidth.V512: WritePlain<Vector512Ops, Vector512<float>, BFloat16Lanes512>(z, gradient, c); return true;
            case VectorWidth.V256 when half: WritePlain<Vector256Ops, Vector256<float>, HalfLanes256>(z, gradient, c); return true;
            case VectorWidth.V256: WritePlain<Vector256Ops, Vector256<float>, BFloat16Lanes256>(z, gradient, c); return true;
            case VectorWidth.V128 when half: WritePlain<Vector128Ops, Vector128<float>, HalfLanes128>(z, gradient, c); return true;
            case VectorWidth.V128: WritePlain<Vector128Ops, Vector128<float>, BFloat16Lanes128>(z, gradient, c); return true;
            default: return false;
        }
    }

    // As WriteElements, two vectors an iteration and the shifted-back last vector, each stored through TOut.
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static unsafe void WritePlain<TOps, TV, TOut>(ReadOnlySpan<float> z, ushort* gradient, in GradientCoefficients c)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TOut : struct, IWritableLanes<TV>
    {
        var element = new PlainElement<TOps, TV>(c);
        int k = TOps.Count;
        ref float x = ref MemoryMarshal.GetReference(z);
        ref byte d = ref *(byte*)gradient;
        nint last = z.Length - k, i = 0;
        for (; i < last - k; i += 2 * k)
        {
            TV a = element.At(ref x, i);
            TV b = element.At(ref x, i + k);
            TOut.Store(a, ref d, i);
            TOut.Store(b, ref d, i + k);
        }

        if (i < last)
        {
            TOut.Store(element.At(ref x, i), ref d, i);
        }

        TOut.Store(element.At(ref x, last), ref d, last);
    }
}
