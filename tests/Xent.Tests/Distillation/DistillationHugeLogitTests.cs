using Xent.Reference;
using Xent.Tests.Core;

namespace Xent.Tests.Distillation;

/// <summary>
/// Distillation with logits far from 0 (masked rows of -1e30 or float.MinValue, logits scaled to 1e30, float.MaxValue,
/// rows of -inf but one): the float64 reference rounded to float, wherever it is finite, and its infinities where not.
/// </summary>
public class DistillationHugeLogitTests
{
    /// <summary>Named rows [V] of student and teacher logits.</summary>
    internal static IEnumerable<(string Name, float[] Student, float[] Teacher)> Rows(int v)
    {
        var random = new Random(v);
        float[] Random(float scale) => [.. Enumerable.Range(0, v).Select(_ => scale * ((2 * random.NextSingle()) - 1))];
        float[] All(float value) => [.. Enumerable.Repeat(value, v)];
        float[] OneOf(float rest, float one, int at) => [.. Enumerable.Range(0, v).Select(c => c == at ? one : rest)];
        yield return ("both random", Random(3f), Random(3f));
        yield return ("both x1e30", Random(1e30f), Random(1e30f));
        yield return ("student x1e30", Random(1e30f), Random(3f));
        yield return ("teacher x1e30", Random(3f), Random(1e30f));
        yield return ("student -1e30", All(-1e30f), Random(3f));
        yield return ("teacher -1e30", Random(3f), All(-1e30f));
        yield return ("both -1e30", All(-1e30f), All(-1e30f));
        yield return ("both MinValue", All(float.MinValue), All(float.MinValue));
        yield return ("student -inf but one", OneOf(float.NegativeInfinity, 2f, v / 2), Random(3f));
        yield return ("both -inf but one", OneOf(float.NegativeInfinity, -1e30f, v / 2), OneOf(float.NegativeInfinity, 5f, v / 2));
        yield return ("student MaxValue at one", OneOf(1f, float.MaxValue, v / 3), Random(3f));
        yield return ("both MaxValue at one", OneOf(1f, float.MaxValue, v / 3), OneOf(-1f, float.MaxValue, v / 3));
        yield return ("student MinValue but one", OneOf(float.MinValue, 0f, v - 1), Random(3f));
    }

    internal static IEnumerable<(string Name, DistillationOptions Options)> Options()
    {
        foreach (float beta in new[] { 0f, 1f, 0.5f })
        {
            yield return ($"beta {beta}", new() { Beta = beta, Reduction = Reduction.Sum });
            yield return ($"beta {beta} T 2 hard 0.5", new() { Beta = beta, Temperature = 2f, HardLossWeight = 0.5f, SoftLossWeight = 0.7f, Reduction = Reduction.Sum });
        }

        yield return ("hard only", new() { SoftLossWeight = 0f, HardLossWeight = 1f, Reduction = Reduction.Sum });
        yield return ("beta 1 T 0.5 hard 0.5", new() { Beta = 1f, Temperature = 0.5f, HardLossWeight = 0.5f, Reduction = Reduction.Sum });
        yield return ("beta 0.5 T 0.5", new() { Beta = 0.5f, Temperature = 0.5f, Reduction = Reduction.Sum });
    }

    /// <summary>
    /// Every row and option through LossAndGradients (dW = G with D = 1 and h = 1) and LossPerRow (the terms' own sweep),
    /// against the reference rounded to float. The absolute 2e-6 is the float rounding of a centred gradient
    /// Q ((x - y) - E_Q[x - y]) at x - y of a few units; the broken paths were off by 1e-2 and more, or NaN.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void MatchTheReferenceRoundedToFloat(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        var failures = new List<string>();
        foreach (int v in new[] { 40, 1000, 9000 })
        {
            foreach (var (rowName, student, teacher) in Rows(v))
            {
                foreach (var (optionName, o) in Options())
                {
                    string what = $"V={v} {width} {rowName} {optionName}";
                    double[] s = [.. student.Select(x => (double)x)], t = [.. teacher.Select(x => (double)x)];
                    int[] y = [v / 3];
                    double expectedLoss = DistillationReference.Loss(s, t, y, o);
                    var expectedGradient = DistillationReference.Gradient(s, t, y, o);
                    var dh = new float[1];
                    var dw = new float[v];
                    float loss = LinearDistillation.LossAndGradients([1f], student, teacher, y, dh, dw, o);
                    var rows = new float[1];
                    LinearDistillation.LossPerRow([1f], student, teacher, y, rows, o);
                    foreach (var (name, value) in new[] { ("loss", loss), ("row loss", rows[0]) })
                    {
                        float e = (float)expectedLoss;
                        bool ok = float.IsFinite(e) ? Math.Abs(e - value) <= (1e-4 * Math.Abs(e)) + 1e-5 : e.Equals(value);
                        if (!ok)
                        {
                            failures.Add($"{what} {name}: expected {e} ({expectedLoss}), got {value}");
                        }
                    }

                    try
                    {
                        ZLossOverflowTests.Rounded(expectedGradient, dw, v, what + " dW", relative: 1e-4, floor: 1e-5, absolute: 2e-6);
                    }
                    catch (Exception ex)
                    {
                        failures.Add(ex.Message.Split('\n')[0]);
                    }
                }
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }
}
