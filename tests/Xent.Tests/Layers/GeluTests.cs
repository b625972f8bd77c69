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

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void A_value_gets_the_same_bits_wherever_it_sits_among_whole_vectors(VectorWidth width)
    {
        // Four vectors run side by side, the rest one at a time: an element's bits must not depend on which.
        int lanes = width switch { VectorWidth.V512 => 16, VectorWidth.V256 => 8, VectorWidth.V128 => 4, _ => 1 };
        var r = new Random(5);
        float[] x = [.. Enumerable.Range(0, 9 * lanes).Select(_ => (float)((r.NextDouble() - 0.5) * 12))];
        x[3] = -0f;
        x[^2] = 1e4f;
        var dy = x.Select(v => (v * 0.5f) + 1).ToArray();
        using (Simd.Override(width))
        {
            var (y, dx) = Run(x, dy);
            for (int shift = 1; shift < 9; shift++)
            {
                var (ys, dxs) = Run(x[(shift * lanes)..], dy[(shift * lanes)..]);
                for (int i = 0; i < ys.Length; i++)
                {
                    Assert.Equal(BitConverter.SingleToInt32Bits(y[i + (shift * lanes)]), BitConverter.SingleToInt32Bits(ys[i]));
                    Assert.Equal(BitConverter.SingleToInt32Bits(dx[i + (shift * lanes)]), BitConverter.SingleToInt32Bits(dxs[i]));
                }
            }
        }

        static (float[] Y, float[] Dx) Run(float[] x, float[] dy)
        {
            var y = new float[x.Length];
            var dx = new float[x.Length];
            Gelu.Forward(x, y, 1);
            Gelu.Backward(x, dy, dx, 1);
            return (y, dx);
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void A_value_gets_the_same_bits_in_the_last_part_of_a_vector(VectorWidth width)
    {
        // A KV-cache step's row of 4D against the batched forward's rows: an element at the end of a span shorter
        // than a whole number of vectors must get the bits it gets inside one.
        var r = new Random(6);
        float[] x = [.. Enumerable.Range(0, 64).Select(_ => (float)((r.NextDouble() - 0.5) * 12))];
        float[] dy = [.. x.Select(v => (v * 0.25f) - 1)];
        using (Simd.Override(width))
        {
            var y = new float[64];
            var dx = new float[64];
            Gelu.Forward(x, y, 1);
            Gelu.Backward(x, dy, dx, 1);
            for (int length = 1; length < 64; length++)
            {
                var ys = new float[length];
                var dxs = new float[length];
                Gelu.Forward(x.AsSpan(0, length), ys, 1);
                Gelu.Backward(x.AsSpan(0, length), dy.AsSpan(0, length), dxs, 1);
                Assert.Equal(y.AsSpan(0, length).ToArray(), ys);
                Assert.Equal(dx.AsSpan(0, length).ToArray(), dxs);
            }
        }
    }
}
