using Xent.Tests.Core;

namespace Xent.Tests.Distillation;

/// <summary>
/// Temperatures far from 1: the kernel tempers (s - m) x float(1 / T), so every T whose reciprocal is a finite float
/// works, and a smaller (subnormal) one, whose reciprocal overflows, is refused rather than answered with NaN.
/// </summary>
public class DistillationTemperatureRangeTests
{
    private static readonly float[] Student = [1f, 2f, 0.5f, -1f, 2.25f, 0f, -3f];
    private static readonly float[] Teacher = [0.3f, 2.5f, -0.5f, 0f, 1f, 2.4f, -2f];

    [Theory]
    [InlineData(1e-30f)]
    [InlineData(3e-39f)]
    [InlineData(0.01f)]
    [InlineData(1e30f)]
    [InlineData(3e38f)]
    public void ExtremeTemperaturesMatchTheFormula(float temperature)
    {
        var (hidden, weight) = OneHotHead.Of(Student, 1);
        foreach (float beta in new[] { 0f, 0.5f, 1f })
        {
            var o = new DistillationOptions { Beta = beta, Temperature = temperature, HardLossWeight = 0.5f };
            string what = $"T {temperature}, beta {beta}";
            float loss = LinearDistillation.Loss(hidden, weight, Teacher, [1], o);

            // Rounded to float first: at T 3e-39 the reverse KL is 1.5 / T = 5e38, +inf in float.
            Close.Scalar((float)(Divergence(beta, temperature) + (0.5 * HardLoss(1))), loss, what: what);
        }
    }

    [Theory]
    [InlineData(1e-40f)]
    [InlineData(float.Epsilon)]
    [InlineData(2.9e-39f)]
    public void TemperaturesWhoseReciprocalOverflowsThrowBeforeWriting(float temperature)
    {
        var (hidden, weight) = OneHotHead.Of(Student, 1);
        var o = new DistillationOptions { Temperature = temperature };
        var dh = new float[1];
        var dw = new float[Student.Length];
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => LinearDistillation.LossAndGradients(hidden, weight, Teacher, [1], dh, dw, o));
        Assert.Equal("options", e.ParamName);
        Assert.Contains("Temperature", e.Message, StringComparison.Ordinal);
        Assert.All(dw, g => Assert.Equal(0f, g));
    }

    /// <summary>The divergence straight from its definition in double (logits / T, log-softmax, the generalised JSD).</summary>
    private static double Divergence(double beta, double temperature)
    {
        var logQ = LogSoftmax(Student, temperature);
        var logP = LogSoftmax(Teacher, temperature);
        double d = 0;
        for (int c = 0; c < Student.Length; c++)
        {
            double q = Math.Exp(logQ[c]), p = Math.Exp(logP[c]);
            if (beta == 0)
            {
                d += p == 0 ? 0 : p * (logP[c] - logQ[c]);
            }
            else if (beta == 1)
            {
                d += q == 0 ? 0 : q * (logQ[c] - logP[c]);
            }
            else
            {
                double m = (beta * p) + ((1 - beta) * q);
                d += (p == 0 ? 0 : beta * p * Math.Log(p / m)) + (q == 0 ? 0 : (1 - beta) * q * Math.Log(q / m));
            }
        }

        return d;
    }

    private static double HardLoss(int target) => -LogSoftmax(Student, 1)[target];

    private static double[] LogSoftmax(float[] logits, double temperature)
    {
        var x = logits.Select(v => v / temperature).ToArray();
        double max = x.Max();
        double log = Math.Log(x.Sum(v => Math.Exp(v - max)));
        return [.. x.Select(v => v - max - log)];
    }
}
