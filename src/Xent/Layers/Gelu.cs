using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Xent.Kernels;

namespace Xent.Layers;

/// <summary>
/// GELU, tanh approximation (GPT-2): y = x/2 (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), computed as
/// y = x s with s = sigmoid(2u) (the same function: (1 + tanh u)/2 = sigmoid(2u)), which needs one exp and
/// stays finite for any x. Written once over the core's lane operators and run at the process's vector width;
/// element-wise, so the result is bitwise the same for any thread count, and an element gets the same bits wherever
/// it sits (the last elements, fewer than a vector, run in a vector padded with zeros, not in the scalar lanes). Float64 reference: the tanh formula itself
/// (tests/Xent.Tests/Layers/GeluTests.cs).
/// </summary>
public static unsafe class Gelu
{
    private const float Sqrt2OverPi = 0.7978845608028654f;
    private const float Cubic = 0.044715f;

    /// <summary>destination [N] = gelu(x [N]), element by element.</summary>
    /// <param name="x">Input [N].</param>
    /// <param name="destination">Output [N]: its first N elements are written; may be x itself.</param>
    /// <param name="maxDegreeOfParallelism">Most threads; -1 for all cores.</param>
    /// <exception cref="ArgumentException">destination is shorter than x, or partly overlaps it.</exception>
    public static void Forward(ReadOnlySpan<float> x, Span<float> destination, int maxDegreeOfParallelism = -1)
    {
        LayerChecks.AtLeast(destination.Length, x.Length, nameof(destination), "[N]");
        LayerChecks.Parallelism(maxDegreeOfParallelism);
        LayerChecks.InPlaceOrDisjoint(destination.Slice(0, x.Length), nameof(destination), x, nameof(x));
        fixed (float* px = x, pd = destination)
        {
            Run(pd, px, null, x.Length, maxDegreeOfParallelism);
        }
    }

    /// <summary>
    /// inputGradient [N] = gelu'(x) * outputGradient, with gelu'(x) = s + 2 x s (1 - s) du/dx and
    /// du/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2).
    /// </summary>
    /// <param name="x">The forward's input [N].</param>
    /// <param name="outputGradient">dL/d(output) [N].</param>
    /// <param name="inputGradient">dL/dx [N], overwritten; may be outputGradient itself.</param>
    /// <param name="maxDegreeOfParallelism">Most threads; -1 for all cores.</param>
    /// <exception cref="ArgumentException">outputGradient's length differs from x's, or inputGradient is shorter, or
    /// partly overlaps either.</exception>
    public static void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> outputGradient, Span<float> inputGradient,
        int maxDegreeOfParallelism = -1)
    {
        LayerChecks.Elementwise(x, nameof(x), outputGradient, nameof(outputGradient), inputGradient, nameof(inputGradient), maxDegreeOfParallelism);
        fixed (float* px = x, pg = outputGradient, pd = inputGradient)
        {
            Run(pd, px, pg, x.Length, maxDegreeOfParallelism);
        }
    }

    // dout null: the forward; otherwise the backward.
    private static void Run(float* result, float* input, float* dout, int count, int maxDegreeOfParallelism) =>
        ParallelWork.ForRanges(count, ParallelWork.Grain(count, 4096), maxDegreeOfParallelism, new Ranges(result, input, dout, Simd.Width));

    private readonly struct Ranges(float* result, float* input, float* dout, VectorWidth width) : IWorkRanges
    {
        public void Run(int start, int end)
        {
            switch (width)
            {
                case VectorWidth.V512:
                    start = Tail<Vector512Ops, Vector512<float>>(result, input, dout, Range<Vector512Ops, Vector512<float>>(result, input, dout, start, end), end);
                    break;
                case VectorWidth.V256:
                    start = Tail<Vector256Ops, Vector256<float>>(result, input, dout, Range<Vector256Ops, Vector256<float>>(result, input, dout, start, end), end);
                    break;
                case VectorWidth.V128:
                    start = Tail<Vector128Ops, Vector128<float>>(result, input, dout, Range<Vector128Ops, Vector128<float>>(result, input, dout, start, end), end);
                    break;
            }

            Range<ScalarOps, float>(result, input, dout, start, end);
        }
    }

    // Whole vectors of [start, end); returns where they stopped (the scalar lanes finish the rest).
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static int Range<TOps, TV>(float* result, float* input, float* dout, int start, int end)
        where TOps : IVectorOps<TV>
        where TV : struct
    {
        ref float x0 = ref *input;
        ref float r0 = ref *result;
        int i = start;
        int k = TOps.Count;
        if (dout == null)
        {
            for (; i + (4 * k) <= end; i += 4 * k)
            {
                TV xa = TOps.Load(ref x0, i), xb = TOps.Load(ref x0, i + k), xc = TOps.Load(ref x0, i + (2 * k)), xd = TOps.Load(ref x0, i + (3 * k));
                Sigmoid2U4<TOps, TV>(xa, xb, xc, xd, out TV sa, out TV sb, out TV sc, out TV sd);
                TOps.Store(TOps.Multiply(xa, sa), ref r0, i);
                TOps.Store(TOps.Multiply(xb, sb), ref r0, i + k);
                TOps.Store(TOps.Multiply(xc, sc), ref r0, i + (2 * k));
                TOps.Store(TOps.Multiply(xd, sd), ref r0, i + (3 * k));
            }

            for (; i + k <= end; i += k)
            {
                TV x = TOps.Load(ref x0, i);
                TOps.Store(TOps.Multiply(x, Sigmoid2U<TOps, TV>(x)), ref r0, i);
            }

            return i;
        }

        ref float d0 = ref *dout;
        for (; i + (4 * k) <= end; i += 4 * k)
        {
            TV xa = TOps.Load(ref x0, i), xb = TOps.Load(ref x0, i + k), xc = TOps.Load(ref x0, i + (2 * k)), xd = TOps.Load(ref x0, i + (3 * k));
            Sigmoid2U4<TOps, TV>(xa, xb, xc, xd, out TV sa, out TV sb, out TV sc, out TV sd);
            TV ga = Derivative<TOps, TV>(xa, sa), gb = Derivative<TOps, TV>(xb, sb), gc = Derivative<TOps, TV>(xc, sc), gd = Derivative<TOps, TV>(xd, sd);
            TOps.Store(TOps.Multiply(ga, TOps.Load(ref d0, i)), ref r0, i);
            TOps.Store(TOps.Multiply(gb, TOps.Load(ref d0, i + k)), ref r0, i + k);
            TOps.Store(TOps.Multiply(gc, TOps.Load(ref d0, i + (2 * k))), ref r0, i + (2 * k));
            TOps.Store(TOps.Multiply(gd, TOps.Load(ref d0, i + (3 * k))), ref r0, i + (3 * k));
        }

        for (; i + k <= end; i += k)
        {
            TV x = TOps.Load(ref x0, i);
            TV grad = Derivative<TOps, TV>(x, Sigmoid2U<TOps, TV>(x));
            TOps.Store(TOps.Multiply(grad, TOps.Load(ref d0, i)), ref r0, i);
        }

        return i;
    }

    // The last elements of [start, end), fewer than a vector, in one vector padded with zeros; returns end. The scalar
    // lanes' exp is another function (MathF.Exp), so an element at the end of a row of a KV-cache step would otherwise
    // get other bits than the same element inside the batched forward's rows.
    private static int Tail<TOps, TV>(float* result, float* input, float* dout, int start, int end)
        where TOps : IVectorOps<TV>
        where TV : struct
    {
        int rest = end - start, k = TOps.Count;
        if (rest == 0)
        {
            return start;
        }

        float* x = stackalloc float[k];
        float* d = stackalloc float[k];
        float* r = stackalloc float[k];
        new Span<float>(x, k).Clear();
        new Span<float>(d, k).Clear();
        new ReadOnlySpan<float>(input + start, rest).CopyTo(new Span<float>(x, k));
        if (dout != null)
        {
            new ReadOnlySpan<float>(dout + start, rest).CopyTo(new Span<float>(d, k));
        }

        Range<TOps, TV>(r, x, dout == null ? null : d, 0, k);
        new ReadOnlySpan<float>(r, rest).CopyTo(new Span<float>(result + start, rest));
        return end;
    }

    // sigmoid(2u) with e = exp(-2|u|) in (0, 1], which never overflows: 1 / (1 + e) for u >= 0, e / (1 + e)
    // below. The fast exp gives a denormal or 0 under -87, so s is 0 or 1 there, up to a denormal.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Sigmoid2U<TOps, TV>(TV x)
        where TOps : IVectorOps<TV>
        where TV : struct
    {
        TV u = U<TOps, TV>(x);
        return Sigmoid<TOps, TV>(u, TOps.Exp(MinusTwoAbs<TOps, TV>(u)));
    }

    // Four vectors step by step (each element's operations those of Sigmoid2U): one vector's chain of dependent steps
    // is about 75 cycles long, which the out-of-order window did not overlap across loop iterations (17 cycles a vector
    // at 256 and 512 bits alike, on Zen 5), while four chains written side by side reach the FMA ports' throughput.
    // Their exps go step by step across the four (IVectorOps.Exp4): with AVX2, written one after another they were
    // still the bound (forward and backward 0.72-0.80x the time with Exp4, Zen 4, in one process; the same at 512 bits).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Sigmoid2U4<TOps, TV>(TV xa, TV xb, TV xc, TV xd, out TV sa, out TV sb, out TV sc, out TV sd)
        where TOps : IVectorOps<TV>
        where TV : struct
    {
        TV ua = U<TOps, TV>(xa), ub = U<TOps, TV>(xb), uc = U<TOps, TV>(xc), ud = U<TOps, TV>(xd);
        TV ea = MinusTwoAbs<TOps, TV>(ua), eb = MinusTwoAbs<TOps, TV>(ub), ec = MinusTwoAbs<TOps, TV>(uc), ed = MinusTwoAbs<TOps, TV>(ud);
        TOps.Exp4(ref ea, ref eb, ref ec, ref ed);
        sa = Sigmoid<TOps, TV>(ua, ea);
        sb = Sigmoid<TOps, TV>(ub, eb);
        sc = Sigmoid<TOps, TV>(uc, ec);
        sd = Sigmoid<TOps, TV>(ud, ed);
    }

    // u = sqrt(2/pi) (x + 0.044715 x^3).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV U<TOps, TV>(TV x)
        where TOps : IVectorOps<TV>
        where TV : struct =>
        TOps.Multiply(TOps.Create(Sqrt2OverPi), TOps.Add(x, TOps.Multiply(TOps.Multiply(TOps.Multiply(TOps.Create(Cubic), x), x), x)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV MinusTwoAbs<TOps, TV>(TV u)
        where TOps : IVectorOps<TV>
        where TV : struct =>
        TOps.Multiply(TOps.Create(-2f), TOps.Abs(u));

    // sigmoid(2u) from u and e = exp(-2|u|).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Sigmoid<TOps, TV>(TV u, TV e)
        where TOps : IVectorOps<TV>
        where TV : struct
    {
        TV one = TOps.Create(1f);
        TV numerator = TOps.Select(TOps.LessThan(u, TOps.Create(0f)), e, one);
        return TOps.Divide(numerator, TOps.Add(one, e));
    }

    // gelu'(x) = s + 2 x s (1 - s) du/dx, du/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2), from s = sigmoid(2u).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Derivative<TOps, TV>(TV x, TV s)
        where TOps : IVectorOps<TV>
        where TV : struct
    {
        TV one = TOps.Create(1f);
        TV du = TOps.Multiply(TOps.Create(Sqrt2OverPi), TOps.Add(one, TOps.Multiply(TOps.Multiply(TOps.Create(3 * Cubic), x), x)));
        return TOps.Add(s, TOps.Multiply(TOps.Multiply(TOps.Multiply(TOps.Multiply(TOps.Create(2f), x), s), TOps.Subtract(one, s)), du));
    }
}
