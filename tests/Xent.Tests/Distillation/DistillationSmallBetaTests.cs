using Xent.Reference;
using Xent.Tests.Core;

namespace Xent.Tests.Distillation;

/// <summary>
/// The mixture divergence at a small beta. Its gradient is Q ((1 - beta) log(Q/M) - mean), and log(Q/M) =
/// -log(1 + beta (P/Q - 1)) is about beta in size: taken as log Q - log M it kept an ulp of |log Q| whatever its size,
/// so the gradient was off by about 2e-7 / beta of its row's largest element (V 700: 1.5e-5 to 2.5e-5 at beta 0.01,
/// 1.4e-3 to 2.2e-3 at 1e-4, 0.17 to 0.24 at 1e-6, by the width). Under beta 1/4 it is -log1p(beta (e^u - 1)),
/// u = log(P/Q): under 1e-6 of the row's largest element, 1.3e-6 at the scalar width's 0.1; larger betas keep
/// log Q - log M, within 2.4e-6 (the scalar width's 0.5).
/// </summary>
public class DistillationSmallBetaTests
{
    private const int V = 700;
    private const int Rows = 6;

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void TheMixturesGradientKeepsItsAccuracyAtASmallBeta(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        var random = new Random(11);
        float[] Logits() => [.. Enumerable.Range(0, Rows * V).Select(_ => (float)(2 * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble())))];
        float[] s = Logits(), t = Logits();
        int[] targets = [.. Enumerable.Range(0, Rows).Select(r => r * 7)];
        var (hidden, weight) = OneHotHead.Of(s, Rows);
        var failures = new List<string>();
        foreach (float beta in new[] { 0.5f, 0.1f, 1e-2f, 1e-3f, 1e-4f, 1e-6f, 0.999f })
        {
            foreach (float temperature in new[] { 1f, 1.5f })
            {
                var o = new DistillationOptions { Beta = beta, Temperature = temperature, Reduction = Reduction.Sum };
                var expected = DistillationReference.Gradient(OneHotHead.Wide(s), OneHotHead.Wide(t), targets, o);
                var dw = new float[weight.Length];
                LinearDistillation.LossAndGradients(hidden, weight, t, targets, new float[hidden.Length], dw, o);
                for (int r = 0; r < Rows; r++)
                {
                    double scale = 0, error = 0;
                    for (int c = 0; c < V; c++)
                    {
                        double e = expected[(r * V) + c];
                        scale = Math.Max(scale, Math.Abs(e));
                        error = Math.Max(error, Math.Abs(e - dw[(c * Rows) + r]));
                    }

                    if (!(error <= 3e-6 * scale))
                    {
                        failures.Add($"{width} beta {beta} T {temperature} row {r}: max error {error:E3}, {error / scale:E2} of the row's largest {scale:E3}");
                    }
                }
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(60)));
    }
}
