using Xent.Tests.Core;

namespace Xent.Tests.Distillation;

/// <summary>
/// SoftLossWeight = 0 (a hard-label-only phase) leaves the divergence out, not 0 x it: a teacher with NaN or infinite
/// logits (or a reverse KL that is +inf on a masked teacher) must not reach the student's gradient.
/// </summary>
public class DistillationZeroSoftWeightTests
{
    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void TeacherNonFiniteLogitsDoNotReachTheHardOnlyGradient(VectorWidth width)
    {
        using var scope = Simd.Override(width);

        // N = 3, V = 37 (whole vectors and a scalar tail at every width); the teacher's bad logit is in a vector in row
        // 0 and in the tail in row 1; row 2 is ignored.
        const int n = 3, v = 37;
        var random = new Random(11);
        var s = new float[n * v];
        for (int i = 0; i < s.Length; i++)
        {
            s[i] = (4 * random.NextSingle()) - 2;
        }

        int[] targets = [5, 36, -100];
        var (hidden, weight) = OneHotHead.Of(s, n);
        foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            var teacher = new float[n * v];
            for (int i = 0; i < teacher.Length; i++)
            {
                teacher[i] = (4 * random.NextSingle()) - 2;
            }

            teacher[3] = bad;
            teacher[v + 35] = bad;
            foreach (float beta in new[] { 0f, 0.5f, 1f })
            {
                foreach (float temperature in new[] { 1f, 2f })
                {
                    var o = new DistillationOptions { Beta = beta, Temperature = temperature, SoftLossWeight = 0f, HardLossWeight = 0.75f, Upstream = 0.5f };
                    var dh = new float[n * n];
                    var dw = new float[v * n];
                    float loss = LinearDistillation.LossAndGradients(hidden, weight, teacher, targets, dh, dw, o);

                    // The hard term alone, from its formula: 0.75 (lse(s) - s[y]), gradient 0.75 (softmax(s) - onehot(y)),
                    // Mean over the 2 kept rows, times the upstream 0.5.
                    string what = $"teacher {bad}, beta {beta}, T {temperature}, {width}";
                    double expectedLoss = 0;
                    var expected = new double[n * v];
                    for (int r = 0; r < 2; r++)
                    {
                        double max = Enumerable.Range(0, v).Max(c => (double)s[(r * v) + c]);
                        double sum = Enumerable.Range(0, v).Sum(c => Math.Exp(s[(r * v) + c] - max));
                        expectedLoss += 0.75 * (max + Math.Log(sum) - s[(r * v) + targets[r]]) / 2;
                        for (int c = 0; c < v; c++)
                        {
                            double q = Math.Exp(s[(r * v) + c] - max) / sum;
                            expected[(r * v) + c] = 0.5 * 0.75 * (q - (c == targets[r] ? 1 : 0)) / 2;
                        }
                    }

                    Close.Scalar(expectedLoss, loss, what: what);

                    // dW[c, r] = G[r, c] for the one-hot head.
                    var gradient = new float[n * v];
                    for (int r = 0; r < n; r++)
                    {
                        for (int c = 0; c < v; c++)
                        {
                            gradient[(r * v) + c] = dw[(c * n) + r];
                        }
                    }

                    Close.Gradient(expected, gradient, v, relative: 1e-5, floor: 1e-6, what: what);
                }
            }
        }
    }
}
