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
}
