using Xent.Layers;
using Xent.LinearAlgebra;

namespace Xent.Tests.Layers;

/// <summary>
/// Outputs that share memory with an input or with another output (where that would read what the call has already
/// written) throw an ArgumentException naming the output, before anything is written.
/// </summary>
public class LayerOverlapTests
{
    private static float[] Ramp(int n, float scale = 0.37f) => [.. Enumerable.Range(0, n).Select(i => MathF.Sin((i + 1) * scale))];

    private static void Refused(string parameter, float[] buffer, Action call)
    {
        float[] before = (float[])buffer.Clone();
        var e = Assert.ThrowsAny<ArgumentException>(call);
        Assert.Equal(parameter, e.ParamName);
        Assert.Equal(before, buffer);
    }

    [Fact]
    public void Gemm_COverAOrB_Throws_BeforeWriting()
    {
        // A [3, 4] at 0, B [4, 3] at 12 of one buffer; C [3, 3] placed over each in turn.
        float[] buffer = Ramp(40);
        Refused("c", buffer, () => MatMul.Gemm(false, false, 3, 3, 4, 1, buffer.AsSpan(0, 12), 4, buffer.AsSpan(12, 12), 3, 0, buffer.AsSpan(6, 9), 3));
        Refused("c", buffer, () => MatMul.Gemm(false, false, 3, 3, 4, 1, buffer.AsSpan(0, 12), 4, buffer.AsSpan(12, 12), 3, 1, buffer.AsSpan(20, 9), 3));
        Refused("c", buffer, () => MatMul.Gemm(true, true, 3, 3, 4, 2, buffer.AsSpan(0, 12), 3, buffer.AsSpan(12, 12), 4, 0, buffer.AsSpan(0, 9), 3));

        // Where A and B are not read (alpha 0), C may lie over them.
        MatMul.Gemm(false, false, 3, 3, 4, 0, buffer.AsSpan(0, 12), 4, buffer.AsSpan(12, 12), 3, 2, buffer.AsSpan(6, 9), 3);
    }

    [Fact]
    public void ElementWise_OutputsPartlyOverAnInput_Throw_BeforeWriting()
    {
        float[] buffer = Ramp(300);
        Span<float> S(int at) => buffer.AsSpan(at, 40);

        Refused("destination", buffer, () => Gelu.Forward(S(0), S(1)));
        Refused("destination", buffer, () => Gelu.Forward(S(1), S(0)));
        Refused("inputGradient", buffer, () => Gelu.Backward(S(0), S(100), S(101)));
        Refused("inputGradient", buffer, () => Gelu.Backward(S(0), S(100), S(3)));
        Refused("destination", buffer, () => Dropout.Multiply(S(0), S(100), S(8)));
        Refused("destination", buffer, () => Dropout.Multiply(S(0), S(100), S(108)));
        Refused("branch", buffer, () => Dropout.AddMasked(S(0), S(100), S(9)));
        Refused("branch", buffer, () => Dropout.AddMasked(S(0), S(100), S(99)));

        // In place (the same first element) is allowed and gives the out-of-place numbers.
        float[] x = Ramp(40, 2.1f), expected = new float[40];
        Gelu.Forward(x, expected);
        x.AsSpan().CopyTo(S(200));
        Gelu.Forward(S(200), S(200));
        Assert.Equal(expected, S(200).ToArray());
    }
}
