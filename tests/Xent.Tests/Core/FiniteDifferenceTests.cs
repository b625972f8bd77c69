using Xent.Reference;

namespace Xent.Tests.Core;

/// <summary>
/// Gradients against central finite differences of the float64 reference loss. Logits are multiples of 2^-12 and
/// the step is 2^-12, so x +- h is exact in float; the central difference is then accurate to ~h^2 = 6e-8
/// relative, and the float kernel's gradient must match it to 1e-4 (relative, plus 1e-6 of the row's largest).
/// </summary>
public class FiniteDifferenceTests
{
    private const float Step = 1f / 4096;
    private const int Rows = 3;
    private const int V = 7;

    public static TheoryData<string> Cases() => new(Options().Keys);

    private static Dictionary<string, CrossEntropyOptions> Options() => new()
    {
        ["defaults"] = new(),
        ["weights + smoothing"] = new() { ClassWeights = TestData.Weights(V, 3), LabelSmoothing = 0.2f },
        ["z-loss + soft cap"] = new() { ZLoss = 0.05f, SoftCap = 2.5f },
        ["all"] = new() { ClassWeights = TestData.Weights(V, 4), LabelSmoothing = 0.3f, ZLoss = 0.02f, SoftCap = 3f, IgnoreIndex = 2 },
    };

    private static float[] Logits() => TestData.Logits(Rows, V, 5).Select(v => MathF.Round(v / Step) * Step).ToArray();

    private static double[] Differences(float[] x, Func<float[], double> loss)
    {
        var d = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            float keep = x[i];
            x[i] = keep + Step;
            double plus = loss(x);
            x[i] = keep - Step;
            double minus = loss(x);
            x[i] = keep;
            d[i] = (plus - minus) / (2.0 * Step);
        }

        return d;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ReducedLoss(string name)
    {
        var x = Logits();
        int[] y = [1, 2, 6];
        foreach (var reduction in new[] { Reduction.Mean, Reduction.Sum })
        {
            var o = Options()[name] with { Reduction = reduction };
            var expected = Differences(x, v => 0.5 * CrossEntropyReference.Loss(v, y, o));
            var g = new float[x.Length];
            CrossEntropy.LossAndGradient(x, y, g, 0.5f, default, o);
            Close.Gradient(expected, g, V, relative: 1e-4, what: $"{name} {reduction}");
            Close.Gradient(expected, CrossEntropyReference.Gradient(x, y, o, 0.5).Select(v => (float)v).ToArray(), V, relative: 1e-4, what: $"reference {name} {reduction}");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void PerRowUpstream(string name)
    {
        var x = Logits();
        int[] y = [0, 2, 5];
        float[] upstream = [0.5f, -2f, 1.25f];
        var o = Options()[name];
        var expected = Differences(x, v =>
        {
            var r = CrossEntropyReference.RowLosses(v, y, o);
            return (upstream[0] * r[0]) + (upstream[1] * r[1]) + (upstream[2] * r[2]);
        });
        var g = new float[x.Length];
        CrossEntropy.Gradient(x, y, upstream, g, o);
        Close.Gradient(expected, g, V, relative: 1e-4, what: name);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ProbabilityTargets(string name)
    {
        var x = Logits();
        var t = TestData.Probabilities(Rows, V, 6);
        foreach (var reduction in new[] { Reduction.Mean, Reduction.Sum })
        {
            var o = Options()[name] with { Reduction = reduction };
            var expected = Differences(x, v => CrossEntropyReference.Loss(v, t, V, o));
            var g = new float[x.Length];
            CrossEntropy.LossAndGradient(x, t, V, g, o);
            Close.Gradient(expected, g, V, relative: 1e-4, what: $"{name} {reduction}");
        }
    }
}
