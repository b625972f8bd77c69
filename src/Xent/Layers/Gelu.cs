using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Xent.Kernels;

namespace Xent.Layers;

/// <summary>
/// GELU, tanh approximation (GPT-2): y = x/2 (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), computed as
/// y = x s with s = sigmoid(2u) (the same function: (1 + tanh u)/2 = sigmoid(2u)), which needs one exp and
/// stays finite for any x. Written once over the core's lane operators and run at the process's vector width;
/// element-wise, so the result is bitwise the same for any thread count. Float64 reference: the tanh formula itself
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
    /// <exception cref="ArgumentException">destination is shorter than x.</exception>
    public static void Forward(ReadOnlySpan<float> x, Span<float> destination, int maxDegreeOfParallelism = -1)
    {
        LayerChecks.AtLeast(destination.Length, x.Length, nameof(destination), "[N]");
        LayerChecks.Parallelism(maxDegreeOfParallelism);
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
    /// <exception cref="ArgumentException">outputGradient's length differs from x's, or inputGradient is shorter.</exception>
    public static void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> outputGradient, Span<float> inputGradient,
        int maxDegreeOfParallelism = -1)
    {
        LayerChecks.Exactly(outputGradient.Length, x.Length, nameof(outputGradient), "[N]");
        LayerChecks.AtLeast(inputGradient.Length, x.Length, nameof(inputGradient), "[N]");
        LayerChecks.Parallelism(maxDegreeOfParallelism);
        fixed (float* px = x, pg = outputGradient, pd = inputGradient)
        {
            Run(pd, px, pg, x.Length, maxDegreeOfParallelism);
        }
    }

    // dout null: the forward; otherwise the backward.
    private static void Run(float* result, float* input, float* dout, int count, int maxDegreeOfParallelism)
    {
        var width = Simd.Width;
        ParallelWork.ForRanges(count, ParallelWork.Grain(count, 4096), maxDegreeOfParallelism, (start, end) =>
        {
            switch (width)
            {
                case VectorWidth.V512:
                    start = Range<Vector512Ops, Vector512<float>>(result, input, dout, start, end);
                    break;
                case VectorWidth.V256:
                    start = Range<Vector256Ops, Vector256<float>>(result, input, dout, start, end);
                    break;
                case VectorWidth.V128:
                    start = Range<Vector128Ops, Vector128<float>>(result, input, dout, start, end);
                    break;
            }

            Range<ScalarOps, float>(result, input, dout, start, end);
        });
    }

    // Whole vectors of [start, end); returns where they stopped (the scalar lanes finish the rest).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int Range<TOps, TV>(float* result, float* input, float* dout, int start, int end)
        where TOps : IVectorOps<TV>
        where TV : struct
    {
        ref float x0 = ref *input;
        ref float r0 = ref *result;
        int i = start;
        if (dout == null)
        {
            for (; i + TOps.Count <= end; i += TOps.Count)
            {
                TV x = TOps.Load(ref x0, i);
                TOps.Store(TOps.Multiply(x, Sigmoid2U<TOps, TV>(x)), ref r0, i);
            }

            return i;
        }

        ref float d0 = ref *dout;
        TV one = TOps.Create(1f), two = TOps.Create(2f), c = TOps.Create(Sqrt2OverPi), c3 = TOps.Create(3 * Cubic);
        for (; i + TOps.Count <= end; i += TOps.Count)
        {
            TV x = TOps.Load(ref x0, i);
            TV s = Sigmoid2U<TOps, TV>(x);
            TV du = TOps.Multiply(c, TOps.Add(one, TOps.Multiply(TOps.Multiply(c3, x), x)));
            TV grad = TOps.Add(s, TOps.Multiply(TOps.Multiply(TOps.Multiply(TOps.Multiply(two, x), s), TOps.Subtract(one, s)), du));
            TOps.Store(TOps.Multiply(grad, TOps.Load(ref d0, i)), ref r0, i);
        }

        return i;
    }

    // sigmoid(2u) with e = exp(-2|u|) in (0, 1], which never overflows: 1 / (1 + e) for u >= 0, e / (1 + e)
    // below. The fast exp gives a denormal or 0 under -87, so s is 0 or 1 there, up to a denormal.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Sigmoid2U<TOps, TV>(TV x)
        where TOps : IVectorOps<TV>
        where TV : struct
    {
        TV u = TOps.Multiply(TOps.Create(Sqrt2OverPi), TOps.Add(x, TOps.Multiply(TOps.Multiply(TOps.Multiply(TOps.Create(Cubic), x), x), x)));
        TV e = TOps.Exp(TOps.Multiply(TOps.Create(-2f), TOps.Abs(u)));
        TV one = TOps.Create(1f);
        TV numerator = TOps.Select(TOps.LessThan(u, TOps.Create(0f)), e, one);
        return TOps.Divide(numerator, TOps.Add(one, e));
    }
}
