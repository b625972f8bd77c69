namespace Xent.Training.Model;

/// <summary>GELU, tanh approximation (GPT-2): y = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).</summary>
internal static class Gelu
{
    private const float Sqrt2OverPi = 0.7978845608028654f;
    private const float Cubic = 0.044715f;

    /// <summary>output [count] = gelu(input [count]).</summary>
    public static void Forward(float[] output, float[] input, int count, int maxDegreeOfParallelism)
    {
        Partition.For(count, Partition.Grain(count, 4096), maxDegreeOfParallelism, (start, end) =>
        {
            for (int i = start; i < end; i++)
            {
                float x = input[i];
                float u = Sqrt2OverPi * (x + (Cubic * x * x * x));
                output[i] = 0.5f * x * (1 + MathF.Tanh(u));
            }
        });
    }

    /// <summary>dinput [count] = gelu'(input) * dout (overwritten; may alias dout).</summary>
    public static void Backward(float[] dinput, float[] input, float[] dout, int count, int maxDegreeOfParallelism)
    {
        Partition.For(count, Partition.Grain(count, 4096), maxDegreeOfParallelism, (start, end) =>
        {
            for (int i = start; i < end; i++)
            {
                float x = input[i];
                float u = Sqrt2OverPi * (x + (Cubic * x * x * x));
                float th = MathF.Tanh(u);
                float sech2 = 1 - (th * th);
                float du = Sqrt2OverPi * (1 + (3 * Cubic * x * x));
                float grad = (0.5f * (1 + th)) + (0.5f * x * sech2 * du);
                dinput[i] = grad * dout[i];
            }
        });
    }
}
