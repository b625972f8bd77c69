using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Xent.Kernels;

/// <summary>
/// Per-row constants of the gradient: dL/dz[c] = K p[c] - w[c] (C1 + C2 t[c]), p[c] = exp(z[c] - lse), times
/// (1 - (z[c]/s)^2) under a soft cap. Class-index targets use C2 = 0 and fix the target column up afterwards.
/// </summary>
internal readonly struct GradientCoefficients
{
    public float LogSumExp { get; init; }

    /// <summary>K, or where K is beyond float's range (<see cref="KScale"/> not 0) K / KScale.</summary>
    public float K { get; init; }

    /// <summary>
    /// 0, or where K is beyond float's range the power of two that <see cref="K"/> is to be multiplied by after p:
    /// (K p) KScale, so that p = 0 gives 0, not inf x 0 (<see cref="WideMultiplier"/>).
    /// </summary>
    public float KScale { get; init; }

    /// <summary>The multiplier of p as the double it stands for: K, or K KScale.</summary>
    public double ExactK => KScale == 0f ? K : (double)K * KScale;

    public float C1 { get; init; }

    public float C2 { get; init; }

    /// <summary>1 / s, or 0 without a soft cap.</summary>
    public float InverseCap { get; init; }
}

/// <summary>
/// A multiplier of p (in [0, 1]) that may be beyond float's range, as a float <see cref="Value"/> and, where it is,
/// a power of two <see cref="Scale"/> to multiply by after p: (m p) 2^j is m p rounded once (the power of two is
/// exact) and overflows to +-inf where m p does, while p = 0 gives 0 where a float m = inf would give inf x 0 = NaN.
/// The z-loss term 2 b l lse of the multiplier K passes float's range with lse near float.MaxValue (logits at
/// float.MaxValue), or l or b large. Exact up to |m| = 2^254; beyond that the value saturates at +-float.MaxValue
/// and m p is then too small only for p below 2^-126.
/// </summary>
/// <param name="Value">m, or where m is beyond float's range m / Scale.</param>
/// <param name="Scale">0 where m is a float, else 2^j with j in [1, 127].</param>
internal readonly record struct WideMultiplier(float Value, float Scale)
{
    /// <summary>m as a float, with the power of two it needs where it is beyond float's range (NaN and +-inf stay as they are).</summary>
    public static WideMultiplier Of(double m)
    {
        float f = (float)m;
        if (float.IsFinite(f) || !double.IsFinite(m))
        {
            return new(f, 0f);
        }

        int j = Math.Min(Math.ILogB(m) - 126, 127);
        return new((float)Math.Clamp(Math.ScaleB(m, -j), -float.MaxValue, float.MaxValue), MathF.ScaleB(1f, j));
    }
}

/// <summary>
/// Writes the gradient of one block. The destination may be the logits themselves (in place): the last,
/// shifted-back vector is computed from the input before the main loop overwrites the lanes it overlaps.
/// </summary>
internal static partial class GradientKernel
{
    /// <param name="width">Widest vector width allowed.</param>
    /// <param name="z">The block's (soft-capped) logits.</param>
    /// <param name="gradient">Destination, same length; may be <paramref name="z"/>'s memory.</param>
    /// <param name="c">The row's coefficients.</param>
    /// <param name="weights">The block's class weights, or empty for all 1.</param>
    /// <param name="probabilities">The block's target probabilities, or empty.</param>
    /// <param name="stream">Write with streaming stores (out of place only; the caller fences).</param>
    /// <param name="ahead">
    /// Null, or float logits of the same length that the calling thread reads next (the next row's block): brought
    /// into L2 while this block is written, so that memory reads during the write pass too.
    /// </param>
    public static unsafe void Write(VectorWidth width, ReadOnlySpan<float> z, Span<float> gradient, in GradientCoefficients c, ReadOnlySpan<float> weights, ReadOnlySpan<float> probabilities, bool stream = false, byte* ahead = null)
    {
        fixed (float* d = gradient)
        {
            if (stream && StreamingStores.Usable(d, sizeof(float)))
            {
                Write<StreamingStores>(width, z, gradient, c, weights, probabilities, ahead);
            }
            else
            {
                Write<OrdinaryStores>(width, z, gradient, c, weights, probabilities, ahead);
            }
        }
    }

    private static unsafe void Write<TMode>(VectorWidth width, ReadOnlySpan<float> z, Span<float> gradient, in GradientCoefficients c, ReadOnlySpan<float> weights, ReadOnlySpan<float> probabilities, byte* ahead)
        where TMode : struct, IStoreMode
    {
        switch (Widths.Fit(width, z.Length))
        {
            case VectorWidth.V512: Write<Vector512Ops, Vector512<float>, TMode>(z, gradient, c, weights, probabilities, ahead); break;
            case VectorWidth.V256: Write<Vector256Ops, Vector256<float>, TMode>(z, gradient, c, weights, probabilities, ahead); break;
            case VectorWidth.V128: Write<Vector128Ops, Vector128<float>, TMode>(z, gradient, c, weights, probabilities, ahead); break;
            default: Write<ScalarOps, float, OrdinaryStores>(z, gradient, c, weights, probabilities, null); break;
        }
    }

    private static unsafe void Write<TOps, TV, TMode>(ReadOnlySpan<float> z, Span<float> gradient, in GradientCoefficients c, ReadOnlySpan<float> weights, ReadOnlySpan<float> probabilities, byte* ahead)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TMode : struct, IStoreMode
    {
        if (weights.IsEmpty && probabilities.IsEmpty && c.InverseCap == 0f && c.KScale == 0f)
        {
            WritePlain<TOps, TV, TMode>(z, gradient, c, ahead);
        }
        else
        {
            WriteGeneral<TOps, TV, TMode>(z, gradient, c, weights, probabilities, ahead);
        }
    }

    /// <summary>Brings the bytes of <paramref name="ahead"/> that match floats [i, i + count) into L2 (x86; prefetches never fault).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void PrefetchAhead(byte* ahead, nint i, int count)
    {
        if (ahead != null && Sse.IsSupported)
        {
            for (int b = 0; b < count * sizeof(float); b += 64)
            {
                Sse.Prefetch1(ahead + (i * sizeof(float)) + b);
            }
        }
    }

    /// <summary>Where the body's stores start: 0, or (streaming) the first vector-aligned element; the caller stores [0, k) first when it is not 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nint BodyStart<TOps, TV, TMode>(ref float d)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TMode : struct, IStoreMode =>
        TMode.Streams ? StreamingStores.AlignedStart(ref Unsafe.As<float, byte>(ref d), TOps.Count * sizeof(float), sizeof(float)) : 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void BodyStore<TOps, TV, TMode>(TV value, ref float d, nint i)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TMode : struct, IStoreMode
    {
        if (TMode.Streams)
        {
            TOps.StoreNonTemporal(value, ref d, i);
        }
        else
        {
            TOps.Store(value, ref d, i);
        }
    }

    // The common case, kept tight: K exp(z - lse) - C1.
    // Straight to optimised code (dynamic PGO was measured to make these loops ~2.5x slower), and never
    // inlined (docs/benchmarks.md, How the kernels got here).
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    internal static unsafe void WritePlain<TOps, TV, TMode>(ReadOnlySpan<float> z, Span<float> gradient, in GradientCoefficients c, byte* ahead)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TMode : struct, IStoreMode =>
        WriteElements<TOps, TV, TMode, PlainElement<TOps, TV>>(z, gradient, new PlainElement<TOps, TV>(c), ahead);

    /// <summary>
    /// The write loop of a block whose every vector is <typeparamref name="TElement"/>'s function of the logits at its
    /// index: two vectors an iteration (bringing <paramref name="ahead"/> into L2 meanwhile), the body streamed or not
    /// (<typeparamref name="TMode"/>), and the shifted-back last vector computed before any store, since in place the
    /// loop overwrites its first lanes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void WriteElements<TOps, TV, TMode, TElement>(ReadOnlySpan<float> z, Span<float> gradient, in TElement element, byte* ahead)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TMode : struct, IStoreMode
        where TElement : struct, IGradientElement<TV>
    {
        int n = z.Length, k = TOps.Count;
        ref float x = ref MemoryMarshal.GetReference(z);
        ref float d = ref MemoryMarshal.GetReference(gradient);
        nint last = n - k;
        TV tail = element.At(ref x, last);
        nint i = BodyStart<TOps, TV, TMode>(ref d);
        if (i != 0)
        {
            TOps.Store(element.At(ref x, 0), ref d, 0);
        }

        for (; i < last - k; i += 2 * k)
        {
            PrefetchAhead(ahead, i, 2 * k);
            TV a = element.At(ref x, i);
            TV b = element.At(ref x, i + k);
            BodyStore<TOps, TV, TMode>(a, ref d, i);
            BodyStore<TOps, TV, TMode>(b, ref d, i + k);
        }

        if (i < last)
        {
            BodyStore<TOps, TV, TMode>(element.At(ref x, i), ref d, i);
        }

        TOps.Store(tail, ref d, last);
    }

    /// <summary>One vector of a block's gradient as a function of the logits at an index (<see cref="WriteElements"/>).</summary>
    private interface IGradientElement<TV>
        where TV : struct
    {
        TV At(ref float z, nint i);
    }

    /// <summary>K exp(z - lse) - C1: the plain class-index gradient, recomputed from the logits.</summary>
    private readonly struct PlainElement<TOps, TV>(in GradientCoefficients c) : IGradientElement<TV>
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        private readonly TV lse = TOps.Create(c.LogSumExp), k = TOps.Create(c.K), c1 = TOps.Create(-c.C1);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV At(ref float z, nint i) => TOps.MultiplyAdd(k, TOps.Exp(TOps.Subtract(TOps.Load(ref z, i), lse)), c1);
    }

    // Straight to optimised code (dynamic PGO was measured to make these loops ~2.5x slower), and never
    // inlined (docs/benchmarks.md, How the kernels got here).
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static unsafe void WriteGeneral<TOps, TV, TMode>(ReadOnlySpan<float> z, Span<float> gradient, in GradientCoefficients c, ReadOnlySpan<float> weights, ReadOnlySpan<float> probabilities, byte* ahead)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TMode : struct, IStoreMode
    {
        int n = z.Length, k = TOps.Count;
        ref float x = ref MemoryMarshal.GetReference(z);
        ref float d = ref MemoryMarshal.GetReference(gradient);
        ref float w = ref MemoryMarshal.GetReference(weights);
        ref float t = ref MemoryMarshal.GetReference(probabilities);
        var p = new Parameters<TV>(TOps.Create(c.LogSumExp), TOps.Create(c.K), TOps.Create(c.C1), TOps.Create(c.C2), TOps.Create(c.InverseCap),
            TOps.Create(c.KScale), !weights.IsEmpty, !probabilities.IsEmpty, c.InverseCap != 0f, c.KScale != 0f);
        nint last = n - k;
        TV tail = Element<TOps, TV>(ref x, ref w, ref t, last, p);
        nint start = BodyStart<TOps, TV, TMode>(ref d);
        if (start != 0)
        {
            TOps.Store(Element<TOps, TV>(ref x, ref w, ref t, 0, p), ref d, 0);
        }

        for (nint i = start; i < last; i += k)
        {
            PrefetchAhead(ahead, i, k);
            BodyStore<TOps, TV, TMode>(Element<TOps, TV>(ref x, ref w, ref t, i, p), ref d, i);
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

        TV kp = TOps.Multiply(p.K, e);
        if (p.HasKScale)
        {
            kp = TOps.Multiply(kp, p.KScale); // K beyond float: (K' p) 2^j, 0 where p is 0
        }

        TV g = TOps.Subtract(kp, column);
        if (p.HasCap)
        {
            g = TOps.Multiply(g, VectorMath.SoftCapDerivative<TOps, TV>(zi, p.InverseCap));
        }

        return g;
    }

    /// <summary>
    /// The gradient from exponentials stored by the forward: gradient = scale * exps - offset * w, where scale = K
    /// exp(shift - lse) for the block and, under label smoothing, offset = C1 and w the class weights (1 where
    /// <paramref name="weights"/> is empty), rounded as the general write rounds K p - C1 w. One multiply instead of a
    /// second exp; exps may be the gradient's memory.
    /// </summary>
    /// <remarks>With <c>stream</c>, written with streaming stores (never in place; the caller fences).</remarks>
    public static void Scale(VectorWidth width, ReadOnlySpan<float> exps, Span<float> gradient, float scale, bool stream = false, float offset = 0f, ReadOnlySpan<float> weights = default)
    {
        if (offset == 0f && weights.IsEmpty)
        {
            Scale<No>(width, exps, gradient, scale, 0f, default, stream);
        }
        else
        {
            Scale<Yes>(width, exps, gradient, scale, offset, weights, stream);
        }
    }

    /// <summary>As the float overload, the gradient rounded to bfloat16 as it is stored (exps must not overlap it).</summary>
    public static void Scale(VectorWidth width, ReadOnlySpan<float> exps, Span<BFloat16> gradient, float scale, bool stream = false, float offset = 0f, ReadOnlySpan<float> weights = default) =>
        Scale16<BFloat16Lanes512, BFloat16Lanes256, BFloat16Lanes128, BFloat16Lanes1>(width, exps, MemoryMarshal.AsBytes(gradient), scale, stream, offset, weights);

    /// <summary>As the float overload, the gradient rounded to Half as it is stored (exps must not overlap it).</summary>
    public static void Scale(VectorWidth width, ReadOnlySpan<float> exps, Span<Half> gradient, float scale, bool stream = false, float offset = 0f, ReadOnlySpan<float> weights = default) =>
        Scale16<HalfLanes512, HalfLanes256, HalfLanes128, HalfLanes1>(width, exps, MemoryMarshal.AsBytes(gradient), scale, stream, offset, weights);

    private static unsafe void Scale<TShifted>(VectorWidth width, ReadOnlySpan<float> exps, Span<float> gradient, float scale, float offset, ReadOnlySpan<float> weights, bool stream)
        where TShifted : struct, IConstant
    {
        fixed (float* p = gradient)
        {
            ref byte d = ref Unsafe.As<float, byte>(ref MemoryMarshal.GetReference(gradient));
            if (stream && StreamingStores.Usable(p, sizeof(float)))
            {
                switch (Widths.Fit(width, exps.Length))
                {
                    case VectorWidth.V512: Scale<Vector512Ops, Vector512<float>, SingleLanes<Vector512Ops, Vector512<float>>, StreamingStores, TShifted>(exps, ref d, scale, offset, weights); break;
                    case VectorWidth.V256: Scale<Vector256Ops, Vector256<float>, SingleLanes<Vector256Ops, Vector256<float>>, StreamingStores, TShifted>(exps, ref d, scale, offset, weights); break;
                    case VectorWidth.V128: Scale<Vector128Ops, Vector128<float>, SingleLanes<Vector128Ops, Vector128<float>>, StreamingStores, TShifted>(exps, ref d, scale, offset, weights); break;
                    default: Scale<ScalarOps, float, SingleLanes<ScalarOps, float>, OrdinaryStores, TShifted>(exps, ref d, scale, offset, weights); break;
                }

                return;
            }

            switch (Widths.Fit(width, exps.Length))
            {
                case VectorWidth.V512: Scale<Vector512Ops, Vector512<float>, SingleLanes<Vector512Ops, Vector512<float>>, OrdinaryStores, TShifted>(exps, ref d, scale, offset, weights); break;
                case VectorWidth.V256: Scale<Vector256Ops, Vector256<float>, SingleLanes<Vector256Ops, Vector256<float>>, OrdinaryStores, TShifted>(exps, ref d, scale, offset, weights); break;
                case VectorWidth.V128: Scale<Vector128Ops, Vector128<float>, SingleLanes<Vector128Ops, Vector128<float>>, OrdinaryStores, TShifted>(exps, ref d, scale, offset, weights); break;
                default: Scale<ScalarOps, float, SingleLanes<ScalarOps, float>, OrdinaryStores, TShifted>(exps, ref d, scale, offset, weights); break;
            }
        }
    }

    /// <summary>
    /// The bfloat16 <see cref="Scale(VectorWidth, ReadOnlySpan{float}, Span{BFloat16}, float, bool, float, ReadOnlySpan{float})"/>
    /// without offset or weights, ordinary stores, at the width of <typeparamref name="TOps"/> (which must fit the
    /// block), for a caller that chose the width once for many blocks: the same loop, so the same bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void ScaleToBFloat16<TOps, TV>(ReadOnlySpan<float> exps, ref byte d, float scale)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        if (typeof(TOps) == typeof(Vector512Ops))
        {
            Scale<Vector512Ops, Vector512<float>, BFloat16Lanes512, OrdinaryStores, No>(exps, ref d, scale, 0f, default);
        }
        else if (typeof(TOps) == typeof(Vector256Ops))
        {
            Scale<Vector256Ops, Vector256<float>, BFloat16Lanes256, OrdinaryStores, No>(exps, ref d, scale, 0f, default);
        }
        else if (typeof(TOps) == typeof(Vector128Ops))
        {
            Scale<Vector128Ops, Vector128<float>, BFloat16Lanes128, OrdinaryStores, No>(exps, ref d, scale, 0f, default);
        }
        else
        {
            Scale<ScalarOps, float, BFloat16Lanes1, OrdinaryStores, No>(exps, ref d, scale, 0f, default);
        }
    }

    private static void Scale16<T512, T256, T128, T1>(VectorWidth width, ReadOnlySpan<float> exps, Span<byte> gradient, float scale, bool stream, float offset, ReadOnlySpan<float> weights)
        where T512 : struct, IWritableLanes<Vector512<float>>
        where T256 : struct, IWritableLanes<Vector256<float>>
        where T128 : struct, IWritableLanes<Vector128<float>>
        where T1 : struct, IWritableLanes<float>
    {
        if (offset == 0f && weights.IsEmpty)
        {
            Scale16<T512, T256, T128, T1, No>(width, exps, gradient, scale, 0f, default, stream);
        }
        else
        {
            Scale16<T512, T256, T128, T1, Yes>(width, exps, gradient, scale, offset, weights, stream);
        }
    }

    private static unsafe void Scale16<T512, T256, T128, T1, TShifted>(VectorWidth width, ReadOnlySpan<float> exps, Span<byte> gradient, float scale, float offset, ReadOnlySpan<float> weights, bool stream)
        where T512 : struct, IWritableLanes<Vector512<float>>
        where T256 : struct, IWritableLanes<Vector256<float>>
        where T128 : struct, IWritableLanes<Vector128<float>>
        where T1 : struct, IWritableLanes<float>
        where TShifted : struct, IConstant
    {
        fixed (byte* p = gradient)
        {
            ref byte d = ref MemoryMarshal.GetReference(gradient);
            if (stream && StreamingStores.Usable(p, sizeof(ushort)))
            {
                switch (Widths.Fit(width, exps.Length))
                {
                    case VectorWidth.V512: Scale<Vector512Ops, Vector512<float>, T512, StreamingStores, TShifted>(exps, ref d, scale, offset, weights); break;
                    case VectorWidth.V256: Scale<Vector256Ops, Vector256<float>, T256, StreamingStores, TShifted>(exps, ref d, scale, offset, weights); break;
                    case VectorWidth.V128: Scale<Vector128Ops, Vector128<float>, T128, OrdinaryStores, TShifted>(exps, ref d, scale, offset, weights); break;
                    default: Scale<ScalarOps, float, T1, OrdinaryStores, TShifted>(exps, ref d, scale, offset, weights); break;
                }

                return;
            }

            switch (Widths.Fit(width, exps.Length))
            {
                case VectorWidth.V512: Scale<Vector512Ops, Vector512<float>, T512, OrdinaryStores, TShifted>(exps, ref d, scale, offset, weights); break;
                case VectorWidth.V256: Scale<Vector256Ops, Vector256<float>, T256, OrdinaryStores, TShifted>(exps, ref d, scale, offset, weights); break;
                case VectorWidth.V128: Scale<Vector128Ops, Vector128<float>, T128, OrdinaryStores, TShifted>(exps, ref d, scale, offset, weights); break;
                default: Scale<ScalarOps, float, T1, OrdinaryStores, TShifted>(exps, ref d, scale, offset, weights); break;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    internal static void Scale<TOps, TV, TOut, TMode, TShifted>(ReadOnlySpan<float> exps, ref byte d, float scale, float offset, ReadOnlySpan<float> weights)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TOut : struct, IWritableLanes<TV>
        where TMode : struct, IStoreMode
        where TShifted : struct, IConstant
    {
        int n = exps.Length, k = TOps.Count;
        ref float x = ref MemoryMarshal.GetReference(exps);
        ref float w = ref MemoryMarshal.GetReference(weights);
        bool hasWeights = !weights.IsEmpty;
        TV s = TOps.Create(scale), c1 = TOps.Create(offset);
        nint last = n - k;
        TV tail = Scaled<TOps, TV, TShifted>(ref x, ref w, last, s, c1, hasWeights);
        nint i = 0;
        if (TMode.Streams)
        {
            i = StreamingStores.AlignedStart(ref d, k * TOut.ElementSize, TOut.ElementSize);
            if (i != 0)
            {
                TOut.Store(Scaled<TOps, TV, TShifted>(ref x, ref w, 0, s, c1, hasWeights), ref d, 0);
            }

            for (; i < last - k; i += 2 * k)
            {
                TV a = Scaled<TOps, TV, TShifted>(ref x, ref w, i, s, c1, hasWeights);
                TV b = Scaled<TOps, TV, TShifted>(ref x, ref w, i + k, s, c1, hasWeights);
                TOut.StoreNonTemporal(a, ref d, i);
                TOut.StoreNonTemporal(b, ref d, i + k);
            }
        }

        for (; i < last; i += k)
        {
            if (TMode.Streams)
            {
                TOut.StoreNonTemporal(Scaled<TOps, TV, TShifted>(ref x, ref w, i, s, c1, hasWeights), ref d, i);
            }
            else
            {
                TOut.Store(Scaled<TOps, TV, TShifted>(ref x, ref w, i, s, c1, hasWeights), ref d, i);
            }
        }

        TOut.Store(tail, ref d, last);
    }

    /// <summary>scale e, or with <typeparamref name="TShifted"/> scale e - C1 w (w = 1 without weights): the same bits where C1 w is 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Scaled<TOps, TV, TShifted>(ref float x, ref float w, nint i, TV scale, TV c1, bool hasWeights)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TShifted : struct, IConstant
    {
        TV e = TOps.Multiply(scale, TOps.Load(ref x, i));
        return !TShifted.Value ? e : TOps.Subtract(e, hasWeights ? TOps.Multiply(c1, TOps.Load(ref w, i)) : c1);
    }

    private readonly record struct Parameters<TV>(TV Lse, TV K, TV C1, TV C2, TV InverseCap, TV KScale, bool HasWeights, bool HasTargets, bool HasCap, bool HasKScale)
        where TV : struct;
}
