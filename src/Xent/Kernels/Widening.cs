using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Xent.Kernels;

/// <summary>
/// 16-bit logits widened to floats through the lanes the kernels load them with: exactly Half's and BFloat16's
/// conversions, in Xent's own loops, compiled optimised from the first call. TensorPrimitives' Half conversion ran
/// its vector helpers unoptimised in a measuring process (`perf`: QuickJitted and instrumented code, 2026-12-07):
/// Half LossAndGradient in place took 0.57 ns per logit through it, 0.47 through these (one Zen 4 core, 512 bits).
/// </summary>
internal static class Widening
{
    /// <summary>
    /// Widens <paramref name="destination"/>.Length logits of <paramref name="element"/> (Half or bfloat16) from
    /// <paramref name="source"/>, which must not overlap the destination.
    /// </summary>
    // Optimised from the first call: with dynamic PGO, the Tier1 code of the method that dispatched both Half and
    // bfloat16 blocks before took bfloat16 blocks 1.7-4x slower (bf16 LossAndGradient in place, 512 bits, one Zen 4
    // core: 0.84-2.7 against 0.51 ns per logit).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Widen(VectorWidth width, ElementKind element, ref byte source, Span<float> destination)
    {
        bool half = element == ElementKind.Half;
        switch (Widths.Fit(width, destination.Length))
        {
            case VectorWidth.V512 when half: Widen<Vector512Ops, Vector512<float>, HalfLanes512>(ref source, destination); break;
            case VectorWidth.V512: Widen<Vector512Ops, Vector512<float>, BFloat16Lanes512>(ref source, destination); break;
            case VectorWidth.V256 when half: Widen<Vector256Ops, Vector256<float>, HalfLanes256>(ref source, destination); break;
            case VectorWidth.V256: Widen<Vector256Ops, Vector256<float>, BFloat16Lanes256>(ref source, destination); break;
            case VectorWidth.V128 when half: Widen<Vector128Ops, Vector128<float>, HalfLanes128>(ref source, destination); break;
            case VectorWidth.V128: Widen<Vector128Ops, Vector128<float>, BFloat16Lanes128>(ref source, destination); break;
            case VectorWidth.Scalar when half: Widen<ScalarOps, float, HalfLanes1>(ref source, destination); break;
            default: Widen<ScalarOps, float, BFloat16Lanes1>(ref source, destination); break;
        }
    }

    /// <summary>As <see cref="Widen(VectorWidth, ElementKind, ref byte, Span{float})"/> at the width of <typeparamref name="TOps"/>; a destination shorter than a vector is widened one element at a time.</summary>
    // Straight to optimised code, as the kernels (docs/benchmarks.md, How the kernels got here).
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static unsafe void Widen<TOps, TV, TLanes>(ref byte source, Span<float> destination)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TLanes : struct, ILogitLanes<TV>
    {
        int n = destination.Length, k = TOps.Count;
        ref float d = ref MemoryMarshal.GetReference(destination);

        // Pinned for the lanes' loads, which may take the address (see ILogitLanes.Load).
        fixed (byte* pinned = &source)
        {
            if (n < k)
            {
                for (int i = 0; i < n; i++)
                {
                    Unsafe.Add(ref d, i) = TLanes.Element(ref source, i);
                }

                return;
            }

            // The last vector shifted back over the ones before (the same values written twice), not a scalar tail.
            nint last = n - k;
            for (nint i = 0; i < last; i += k)
            {
                TOps.Store(TLanes.Load(ref source, i), ref d, i);
            }

            TOps.Store(TLanes.Load(ref source, last), ref d, last);
        }
    }
}
