using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Xent.Kernels;

namespace Xent.Layers;

/// <summary>
/// GELU, tanh approximation (GPT-2): y = x/2 (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), computed as
/// y = x s with s = sigmoid(2u) (the same function: (1 + tanh u)/2 = sigmoid(2u)), which needs one exp and
/// stays finite for any x. Written once over the core's lane operators and run at <see cref="Simd.Width"/>.
/// </summary>
internal static class Gelu
{
    private const float Sqrt2OverPi = 0.7978845608028654f;
    private const float Cubic = 0.044715f;

    /// <summary>output [count] = gelu(input [count]).</summary>
    public static void Forward(float[] output, float[] input, int count, int maxDegreeOfParallelism) =>
        Run(output, input, null, count, maxDegreeOfParallelism);

    /// <summary>
    /// dinput [count] = gelu'(input) * dout (overwritten; may alias dout), with
    /// gelu'(x) = s + 2 x s (1 - s) du/dx and du/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2).
    /// </summary>
    public static void Backward(float[] dinput, float[] input, float[] dout, int count, int maxDegreeOfParallelism) =>
        Run(dinput, input, dout, count, maxDegreeOfParallelism);

    // dout null: the forward; otherwise the backward.
    private static void Run(float[] result, float[] input, float[]? dout, int count, int maxDegreeOfParallelism)
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
    private static int Range<TOps, TV>(float[] result, float[] input, float[]? dout, int start, int end)
        where TOps : IVectorOps<TV>
        where TV : struct
    {
        ref float x0 = ref MemoryMarshal.GetArrayDataReference(input);
        ref float r0 = ref MemoryMarshal.GetArrayDataReference(result);
        int i = start;
        if (dout is null)
        {
            for (; i + TOps.Count <= end; i += TOps.Count)
            {
                TV x = TOps.Load(ref x0, i);
                TOps.Store(TOps.Multiply(x, Sigmoid2U<TOps, TV>(x)), ref r0, i);
            }

            return i;
        }

        ref float d0 = ref MemoryMarshal.GetArrayDataReference(dout);
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
    // below. The fast exp flushes arguments under -87 to 0, which gives s exactly 0 or 1 there.
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
