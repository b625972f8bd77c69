using Xent.Layers;
using Xent.Tests.Core;

namespace Xent.Tests.Layers;

public class GeluTests
{

    private static double Reference(double x) => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + (0.044715 * x * x * x))));

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void ForwardAndBackward_MatchTheTanhFormula_AtEveryWidth(VectorWidth width)
    {
        float[] x = [.. Enumerable.Range(0, 203).Select(i => (i - 101) * 0.1f), -30f, 30f, -1e4f, 1e4f, 0f];
        var y = new float[x.Length];
        var dy = Enumerable.Repeat(2f, x.Length).ToArray();
        var dx = new float[x.Length];
        using (Simd.Override(width))
        {
            Gelu.Forward(x, y, 2);
            Gelu.Backward(x, dy, dx, 2);
        }

        for (int i = 0; i < x.Length; i++)
        {
            double expected = Reference(x[i]);
            Assert.True(Math.Abs(y[i] - expected) <= 1e-6 * Math.Max(1, Math.Abs(expected)), $"gelu({x[i]}) = {y[i]}, expected {expected}");
            double h = 1e-4 * Math.Max(1, Math.Abs(x[i]));
            double slope = 2 * (Reference(x[i] + h) - Reference(x[i] - h)) / (2 * h);
            Assert.True(Math.Abs(dx[i] - slope) <= 1e-5 * Math.Max(1, Math.Abs(slope)), $"gelu'({x[i]}) x 2 = {dx[i]}, expected {slope}");
        }
    }
}
