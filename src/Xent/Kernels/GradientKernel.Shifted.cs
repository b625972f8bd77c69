using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Xent.Kernels;

/// <content>
/// The write pass that recomputes the exponentials the single pass would have stored, rather than reading them.
/// </content>
internal static partial class GradientKernel
{
    /// <summary>
    /// gradient = scale 2^(z log2 e - m): bitwise what storing the block's exponentials (the single pass, one shift m for
    /// the block: <see cref="BlockStatistics.ShiftInPowersOfTwo"/>) and then <see cref="Scale(VectorWidth, ReadOnlySpan{float}, Span{float}, float, bool, float, ReadOnlySpan{float})"/>
    /// would write, each exponential computed here as the pass computes it. For an out-of-place gradient written with
    /// streaming stores: the forward then stores nothing (no line of the gradient read for ownership, no scratch), and
    /// the stores drain while the exponentials are computed.
    /// </summary>
    /// <param name="width">The width the block's statistics were computed at (the same vector width must recompute them).</param>
    /// <param name="z">The block's float logits, at least one vector of <paramref name="width"/>.</param>
    /// <param name="gradient">Destination, same length (not <paramref name="z"/>'s memory).</param>
    /// <param name="shift">m, the block's shift in powers of two (<see cref="BlockStatistics.Shift"/>).</param>
    /// <param name="scale">The block's multiplier (K 2^(m - lse log2 e)).</param>
    /// <param name="stream">Write with streaming stores (the caller fences).</param>
    /// <param name="ahead">Null, or the logits the calling thread reads next, brought into L2 meanwhile (see <see cref="Write"/>).</param>
    public static unsafe void WriteShifted(VectorWidth width, ReadOnlySpan<float> z, Span<float> gradient, float shift, float scale, bool stream, byte* ahead = null)
    {
        fixed (float* d = gradient)
        {
            if (stream && StreamingStores.Usable(d, sizeof(float)))
            {
                WriteShifted<StreamingStores>(width, z, gradient, shift, scale, ahead);
            }
            else
            {
                WriteShifted<OrdinaryStores>(width, z, gradient, shift, scale, ahead);
            }
        }
    }

    private static unsafe void WriteShifted<TMode>(VectorWidth width, ReadOnlySpan<float> z, Span<float> gradient, float shift, float scale, byte* ahead)
        where TMode : struct, IStoreMode
    {
        switch (Widths.Fit(width, z.Length))
        {
            case VectorWidth.V512: WriteShifted<Vector512Ops, Vector512<float>, TMode>(z, gradient, shift, scale, ahead); break;
            case VectorWidth.V256: WriteShifted<Vector256Ops, Vector256<float>, TMode>(z, gradient, shift, scale, ahead); break;
            case VectorWidth.V128: WriteShifted<Vector128Ops, Vector128<float>, TMode>(z, gradient, shift, scale, ahead); break;
            default: throw new ArgumentException("The single pass takes whole vectors: a block it computed has at least one.", nameof(z));
        }
    }

    // Straight to optimised code (dynamic PGO was measured to make these loops ~2.5x slower), and never
    // inlined (docs/benchmarks.md, How the kernels got here).
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static unsafe void WriteShifted<TOps, TV, TMode>(ReadOnlySpan<float> z, Span<float> gradient, float shift, float scale, byte* ahead)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TMode : struct, IStoreMode =>
        WriteElements<TOps, TV, TMode, ShiftedElement<TOps, TV>>(z, gradient, new ShiftedElement<TOps, TV>(shift, scale), ahead);

    /// <summary>scale 2^(z log2 e - m), each step as the single pass and <see cref="Scaled"/> take it.</summary>
    private readonly struct ShiftedElement<TOps, TV>(float shift, float scale) : IGradientElement<TV>
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        private readonly TV log2e = TOps.Create(ExpConstants.Log2E), minusM = TOps.Create(-shift), factor = TOps.Create(scale);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV At(ref float z, nint i) => TOps.Multiply(factor, TOps.Exp2(TOps.MultiplyAdd(TOps.Load(ref z, i), log2e, minusM)));
    }
}
