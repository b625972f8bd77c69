using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Xent.Kernels;

namespace Xent.Training.Model;

/// <summary>
/// GELU, tanh approximation (GPT-2): y = x/2 (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), computed as
/// y = x s with s = sigmoid(2u) (the same function: (1 + tanh u)/2 = sigmoid(2u)), which needs one exp and
/// stays finite for any x. Vectorised at <see cref="Simd.Width"/>.
/// </summary>
internal static class Gelu
{
    private const float Sqrt2OverPi = 0.7978845608028654f;
    private const float Cubic = 0.044715f;

    /// <summary>output [count] = gelu(input [count]).</summary>
    public static void Forward(float[] output, float[] input, int count, int maxDegreeOfParallelism)
    {
        var width = Simd.Width;
        Partition.For(count, Partition.Grain(count, 4096), maxDegreeOfParallelism, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            int i = start;
            if (width == VectorWidth.V512)
            {
                for (; i + 16 <= end; i += 16)
                {
                    var x = Vector512.Create(input.AsSpan(i, 16));
                    Vector512.Multiply(x, Sigmoid2U(x)).CopyTo(output.AsSpan(i, 16));
                }
            }
            else if (width == VectorWidth.V256)
            {
                for (; i + 8 <= end; i += 8)
                {
                    var x = Vector256.Create(input.AsSpan(i, 8));
                    Vector256.Multiply(x, Sigmoid2U(x)).CopyTo(output.AsSpan(i, 8));
                }
            }
            else if (width == VectorWidth.V128)
            {
                for (; i + 4 <= end; i += 4)
                {
                    var x = Vector128.Create(input.AsSpan(i, 4));
                    Vector128.Multiply(x, Sigmoid2U(x)).CopyTo(output.AsSpan(i, 4));
                }
            }

            for (; i < end; i++)
            {
                float x = input[i];
                output[i] = x * Sigmoid2U(x);
            }
        });
    }

    /// <summary>
    /// dinput [count] = gelu'(input) * dout (overwritten; may alias dout), with
    /// gelu'(x) = s + 2 x s (1 - s) du/dx and du/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2).
    /// </summary>
    public static void Backward(float[] dinput, float[] input, float[] dout, int count, int maxDegreeOfParallelism)
    {
        var width = Simd.Width;
        Partition.For(count, Partition.Grain(count, 4096), maxDegreeOfParallelism, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            int i = start;
            if (width == VectorWidth.V512)
            {
                for (; i + 16 <= end; i += 16)
                {
                    var x = Vector512.Create(input.AsSpan(i, 16));
                    var s = Sigmoid2U(x);
                    var du = Vector512.Create(Sqrt2OverPi) * (Vector512<float>.One + (Vector512.Create(3 * Cubic) * x * x));
                    var grad = s + (Vector512.Create(2f) * x * s * (Vector512<float>.One - s) * du);
                    (grad * Vector512.Create(dout.AsSpan(i, 16))).CopyTo(dinput.AsSpan(i, 16));
                }
            }
            else if (width == VectorWidth.V256)
            {
                for (; i + 8 <= end; i += 8)
                {
                    var x = Vector256.Create(input.AsSpan(i, 8));
                    var s = Sigmoid2U(x);
                    var du = Vector256.Create(Sqrt2OverPi) * (Vector256<float>.One + (Vector256.Create(3 * Cubic) * x * x));
                    var grad = s + (Vector256.Create(2f) * x * s * (Vector256<float>.One - s) * du);
                    (grad * Vector256.Create(dout.AsSpan(i, 8))).CopyTo(dinput.AsSpan(i, 8));
                }
            }
            else if (width == VectorWidth.V128)
            {
                for (; i + 4 <= end; i += 4)
                {
                    var x = Vector128.Create(input.AsSpan(i, 4));
                    var s = Sigmoid2U(x);
                    var du = Vector128.Create(Sqrt2OverPi) * (Vector128<float>.One + (Vector128.Create(3 * Cubic) * x * x));
                    var grad = s + (Vector128.Create(2f) * x * s * (Vector128<float>.One - s) * du);
                    (grad * Vector128.Create(dout.AsSpan(i, 4))).CopyTo(dinput.AsSpan(i, 4));
                }
            }

            for (; i < end; i++)
            {
                float x = input[i];
                float s = Sigmoid2U(x);
                float du = Sqrt2OverPi * (1 + (3 * Cubic * x * x));
                float grad = s + (2 * x * s * (1 - s) * du);
                dinput[i] = grad * dout[i];
            }
        });
    }

    // sigmoid(2u) with e = exp(-2|u|) in (0, 1], which never overflows: 1 / (1 + e) for u >= 0, e / (1 + e)
    // below. The fast exp flushes arguments under -87 to 0, which gives s exactly 0 or 1 there.
    private static float Sigmoid2U(float x)
    {
        float u = Sqrt2OverPi * (x + (Cubic * x * x * x));
        float e = MathF.Exp(-2 * MathF.Abs(u));
        return (u >= 0 ? 1 : e) / (1 + e);
    }

    private static Vector512<float> Sigmoid2U(Vector512<float> x)
    {
        var u = Vector512.Create(Sqrt2OverPi) * (x + (Vector512.Create(Cubic) * x * x * x));
        var e = Vector512Ops.Exp(Vector512.Create(-2f) * Vector512.Abs(u));
        var numerator = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(u, Vector512<float>.Zero), Vector512<float>.One, e);
        return numerator / (Vector512<float>.One + e);
    }

    private static Vector256<float> Sigmoid2U(Vector256<float> x)
    {
        var u = Vector256.Create(Sqrt2OverPi) * (x + (Vector256.Create(Cubic) * x * x * x));
        var e = Vector256Ops.Exp(Vector256.Create(-2f) * Vector256.Abs(u));
        var numerator = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(u, Vector256<float>.Zero), Vector256<float>.One, e);
        return numerator / (Vector256<float>.One + e);
    }

    private static Vector128<float> Sigmoid2U(Vector128<float> x)
    {
        var u = Vector128.Create(Sqrt2OverPi) * (x + (Vector128.Create(Cubic) * x * x * x));
        var e = Vector128Ops.Exp(Vector128.Create(-2f) * Vector128.Abs(u));
        var numerator = Vector128.ConditionalSelect(Vector128.GreaterThanOrEqual(u, Vector128<float>.Zero), Vector128<float>.One, e);
        return numerator / (Vector128<float>.One + e);
    }
}
