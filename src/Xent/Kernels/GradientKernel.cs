using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Xent.Kernels;

/// <summary>
/// Per-row constants of the gradient: dL/dz[c] = K p[c] - w[c] (C1 + C2 t[c]), p[c] = exp(z[c] - lse), times
/// (1 - (z[c]/s)^2) under a soft cap. Class-index targets use C2 = 0 and fix the target column up afterwards.
/// </summary>
internal readonly struct GradientCoefficients
{
    public float LogSumExp { get; init; }

    public float K { get; init; }

    public float C1 { get; init; }

    public float C2 { get; init; }

    /// <summary>1 / s, or 0 without a soft cap.</summary>
    public float InverseCap { get; init; }
}

/// <summary>
/// Writes the gradient of one block. The destination may be the logits themselves (in place): the last,
/// shifted-back vector is computed from the input before the main loop overwrites the lanes it overlaps.
/// </summary>
internal static class GradientKernel
{
    /// <param name="width">Widest vector width allowed.</param>
    /// <param name="z">The block's (soft-capped) logits.</param>
    /// <param name="gradient">Destination, same length; may be <paramref name="z"/>'s memory.</param>
    /// <param name="c">The row's coefficients.</param>
    /// <param name="weights">The block's class weights, or empty for all 1.</param>
    /// <param name="probabilities">The block's target probabilities, or empty.</param>
    public static void Write(VectorWidth width, ReadOnlySpan<float> z, Span<float> gradient, in GradientCoefficients c, ReadOnlySpan<float> weights, ReadOnlySpan<float> probabilities)
    {
        switch (Widths.Fit(width, z.Length))
        {
            case VectorWidth.V512: Write<Vector512Ops, Vector512<float>>(z, gradient, c, weights, probabilities); break;
            case VectorWidth.V256: Write<Vector256Ops, Vector256<float>>(z, gradient, c, weights, probabilities); break;
            case VectorWidth.V128: Write<Vector128Ops, Vector128<float>>(z, gradient, c, weights, probabilities); break;
            default: Write<ScalarOps, float>(z, gradient, c, weights, probabilities); break;
        }
    }

    private static void Write<TOps, TV>(ReadOnlySpan<float> z, Span<float> gradient, in GradientCoefficients c, ReadOnlySpan<float> weights, ReadOnlySpan<float> probabilities)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        if (weights.IsEmpty && probabilities.IsEmpty && c.InverseCap == 0f)
        {
            WritePlain<TOps, TV>(z, gradient, c);
        }
        else
        {
            WriteGeneral<TOps, TV>(z, gradient, c, weights, probabilities);
        }
    }

    // The common case, kept tight: K exp(z - lse) - C1.
    // Straight to optimised code: dynamic PGO was measured to make these loops ~2.5x slower.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WritePlain<TOps, TV>(ReadOnlySpan<float> z, Span<float> gradient, in GradientCoefficients c)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        int n = z.Length, k = TOps.Count;
        ref float x = ref MemoryMarshal.GetReference(z);
        ref float d = ref MemoryMarshal.GetReference(gradient);
        TV lse = TOps.Create(c.LogSumExp), kk = TOps.Create(c.K), c1 = TOps.Create(-c.C1);
        nint last = n - k;
        TV tail = TOps.MultiplyAdd(kk, TOps.Exp(TOps.Subtract(TOps.Load(ref x, last), lse)), c1);
        nint i = 0;
        for (; i < last - k; i += 2 * k)
        {
            TV a = TOps.MultiplyAdd(kk, TOps.Exp(TOps.Subtract(TOps.Load(ref x, i), lse)), c1);
            TV b = TOps.MultiplyAdd(kk, TOps.Exp(TOps.Subtract(TOps.Load(ref x, i + k), lse)), c1);
            TOps.Store(a, ref d, i);
            TOps.Store(b, ref d, i + k);
        }

        if (i < last)
        {
            TOps.Store(TOps.MultiplyAdd(kk, TOps.Exp(TOps.Subtract(TOps.Load(ref x, i), lse)), c1), ref d, i);
        }

        TOps.Store(tail, ref d, last);
    }

    // Straight to optimised code: dynamic PGO was measured to make these loops ~2.5x slower.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WriteGeneral<TOps, TV>(ReadOnlySpan<float> z, Span<float> gradient, in GradientCoefficients c, ReadOnlySpan<float> weights, ReadOnlySpan<float> probabilities)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        int n = z.Length, k = TOps.Count;
        ref float x = ref MemoryMarshal.GetReference(z);
        ref float d = ref MemoryMarshal.GetReference(gradient);
        ref float w = ref MemoryMarshal.GetReference(weights);
        ref float t = ref MemoryMarshal.GetReference(probabilities);
        var p = new Parameters<TV>(TOps.Create(c.LogSumExp), TOps.Create(c.K), TOps.Create(c.C1), TOps.Create(c.C2), TOps.Create(c.InverseCap),
            !weights.IsEmpty, !probabilities.IsEmpty, c.InverseCap != 0f);
        nint last = n - k;
        TV tail = Element<TOps, TV>(ref x, ref w, ref t, last, p);
        for (nint i = 0; i < last; i += k)
        {
            TOps.Store(Element<TOps, TV>(ref x, ref w, ref t, i, p), ref d, i);
        }

        TOps.Store(tail, ref d, last);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Element<TOps, TV>(ref float x, ref float w, ref float t, nint i, in Parameters<TV> p)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        TV zi = TOps.Load(ref x, i);
        TV e = TOps.Exp(TOps.Subtract(zi, p.Lse));
        TV column = p.HasTargets ? TOps.MultiplyAdd(p.C2, TOps.Load(ref t, i), p.C1) : p.C1;
        if (p.HasWeights)
        {
            column = TOps.Multiply(column, TOps.Load(ref w, i));
        }

        TV g = TOps.Subtract(TOps.Multiply(p.K, e), column);
        if (p.HasCap)
        {
            TV u = TOps.Multiply(zi, p.InverseCap);
            g = TOps.Multiply(g, TOps.Subtract(TOps.Create(1f), TOps.Multiply(u, u)));
        }

        return g;
    }

    /// <summary>
    /// The gradient from exponentials stored by the forward: gradient = scale * exps, where scale = K exp(shift -
    /// lse) for the block. One multiply instead of a second exp; exps may be the gradient's memory.
    /// </summary>
    public static void Scale(VectorWidth width, ReadOnlySpan<float> exps, Span<float> gradient, float scale)
    {
        switch (Widths.Fit(width, exps.Length))
        {
            case VectorWidth.V512: Scale<Vector512Ops, Vector512<float>>(exps, gradient, scale); break;
            case VectorWidth.V256: Scale<Vector256Ops, Vector256<float>>(exps, gradient, scale); break;
            case VectorWidth.V128: Scale<Vector128Ops, Vector128<float>>(exps, gradient, scale); break;
            default: Scale<ScalarOps, float>(exps, gradient, scale); break;
        }
    }

    private static void Scale<TOps, TV>(ReadOnlySpan<float> exps, Span<float> gradient, float scale)
        where TOps : struct, IVectorOps<TV>
        where TV : struct =>
        Scale<TOps, TV, SingleLanes<TOps, TV>>(exps, ref Unsafe.As<float, byte>(ref MemoryMarshal.GetReference(gradient)), scale);

    /// <summary>As the float overload, the gradient rounded to bfloat16 as it is stored (exps must not overlap it).</summary>
    public static void Scale(VectorWidth width, ReadOnlySpan<float> exps, Span<BFloat16> gradient, float scale)
    {
        ref byte d = ref Unsafe.As<BFloat16, byte>(ref MemoryMarshal.GetReference(gradient));
        switch (Widths.Fit(width, exps.Length))
        {
            case VectorWidth.V512: Scale<Vector512Ops, Vector512<float>, BFloat16Lanes512>(exps, ref d, scale); break;
            case VectorWidth.V256: Scale<Vector256Ops, Vector256<float>, BFloat16Lanes256>(exps, ref d, scale); break;
            case VectorWidth.V128: Scale<Vector128Ops, Vector128<float>, BFloat16Lanes128>(exps, ref d, scale); break;
            default: Scale<ScalarOps, float, BFloat16Lanes1>(exps, ref d, scale); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Scale<TOps, TV, TOut>(ReadOnlySpan<float> exps, ref byte d, float scale)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TOut : struct, IWritableLanes<TV>
    {
        int n = exps.Length, k = TOps.Count;
        ref float x = ref MemoryMarshal.GetReference(exps);
        TV s = TOps.Create(scale);
        nint last = n - k;
        TV tail = TOps.Multiply(s, TOps.Load(ref x, last));
        for (nint i = 0; i < last; i += k)
        {
            TOut.Store(TOps.Multiply(s, TOps.Load(ref x, i)), ref d, i);
        }

        TOut.Store(tail, ref d, last);
    }

    private readonly record struct Parameters<TV>(TV Lse, TV K, TV C1, TV C2, TV InverseCap, bool HasWeights, bool HasTargets, bool HasCap)
        where TV : struct;
}
