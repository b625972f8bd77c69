using System.Runtime.Intrinsics;
using Xent.Kernels;

namespace Xent.Tests.Core;

/// <summary>The kernels' own exp and tanh against Math.Exp / Math.Tanh, lane by lane, for every width.</summary>
public class VectorMathTests
{
    private static float Lane512(Func<Vector512<float>, Vector512<float>> f, float x) => f(Vector512.Create(x)).ToScalar();

    private static float Lane256(Func<Vector256<float>, Vector256<float>> f, float x) => f(Vector256.Create(x)).ToScalar();

    private static float Lane128(Func<Vector128<float>, Vector128<float>> f, float x) => f(Vector128.Create(x)).ToScalar();

    private static IEnumerable<(string Width, Func<float, float> Exp, Func<float, float> Tanh)> Widths()
    {
        yield return ("128", x => Lane128(Vector128Ops.Exp, x), x => Lane128(VectorMath.Tanh<Vector128Ops, Vector128<float>>, x));
        if (Vector256.IsHardwareAccelerated)
        {
            yield return ("256", x => Lane256(Vector256Ops.Exp, x), x => Lane256(VectorMath.Tanh<Vector256Ops, Vector256<float>>, x));
        }

        if (Vector512.IsHardwareAccelerated)
        {
            yield return ("512", x => Lane512(Vector512Ops.Exp, x), x => Lane512(VectorMath.Tanh<Vector512Ops, Vector512<float>>, x));
        }

        yield return ("scalar", ScalarOps.Exp, VectorMath.Tanh);
    }

    private static double Ulps(float actual, double exact) =>
        Math.Abs(actual - exact) / (MathF.BitIncrement((float)exact) - (float)exact);

    [Fact]
    public void ExpIsWithinAFewUlpOnTheKernelsDomain()
    {
        var random = new Random(1);
        foreach (var (width, exp, _) in Widths())
        {
            double worst = 0;
            for (int i = 0; i < 200_000; i++)
            {
                // Mostly near 0 (where the sums' mass is), the rest down to -87.
                float x = i % 2 == 0 ? -(float)(random.NextDouble() * 4) : -(float)(random.NextDouble() * 86.9);
                worst = Math.Max(worst, Ulps(exp(x), Math.Exp(x)) / (2 + Math.Abs(x)));
            }

            // 1.9 ulp from the polynomial, plus the single rounding of t = x log2(e), which costs |t| 2^-24
            // relative, i.e. up to ~1.5 ulp per unit of |x|: within 1.5 (2 + |x|) ulp (so ~4 ulp near the max, where a
            // softmax's mass is; 5e-6 relative at e^-87).
            Assert.True(worst <= 1.5, $"{width}: {worst:F2} x (2 + |x|) ulp");
            Assert.Equal(1f, exp(0f));
            Assert.Equal(0f, exp(float.NegativeInfinity));
            Assert.True(exp(-100f) < 1e-38f, width); // 0 in the vector lanes, a denormal from MathF.Exp
            Assert.True(float.IsNaN(exp(float.NaN)), width);
        }
    }

    [Fact]
    public void TanhIsWithinAFewUlp()
    {
        var random = new Random(2);
        foreach (var (width, _, tanh) in Widths())
        {
            double worst = 0;
            for (int i = 0; i < 200_000; i++)
            {
                float x = (float)((random.NextDouble() - 0.5) * (i % 2 == 0 ? 2 : 30));
                worst = Math.Max(worst, Ulps(tanh(x), Math.Tanh(x)));
            }

            Assert.True(worst < 4, $"{width}: {worst:F2} ulp");
            Assert.Equal(1f, tanh(float.PositiveInfinity));
            Assert.Equal(-1f, tanh(float.NegativeInfinity));
            Assert.True(float.IsNaN(tanh(float.NaN)), width);
        }
    }
}
