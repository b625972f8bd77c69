using Xent.Reference;
using Xent.Tests.Core;

namespace Xent.Tests.Distillation;

/// <summary>
/// The forward KL's gradient at a class where the student and the teacher both lead (V 32000, one logit 20 to 25 /
/// T above the rest in (-1, 1)): Q_a - P_a = (R_t - R_s) / ((1 + R_s)(1 + R_t)), the difference of two tails R of
/// about 7.7e-5 (5.2e-7 at 25) that can agree to 1e-4 of themselves. The statistics sweep's float sums keep each tail
/// to 1-4e-8, and Q_a - P_a was 6e-5 (512 bits), 1.7e-4 (256, 128) and 1e-3 (scalar) off; FixLeading takes it from
/// the tails summed in double: within 1e-5 of DistillationReference, which takes that column from the tails too.
/// </summary>
public class DistillationLeadingColumnTests
{
    private const int V = 32000;

    // First, middle, in the last whole tile, and in the last (partial) tile.
    private static readonly int[] At = [0, 12345, 31900, V - 3];

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void TheSharedLeadKeepsTheDifferenceOfTheTails(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        var failures = new List<string>();
        foreach (var (name, s, t, temperature) in Rows())
        {
            var (hidden, weight) = OneHotHead.Of(s, At.Length);
            foreach (var (optionName, o) in Options(temperature))
            {
                var expected = DistillationReference.Gradient(OneHotHead.Wide(s), OneHotHead.Wide(t), At, o);
                float[]? first = null;
                float[]? firstDh = null;
                foreach (int threads in TestData.ThreadCounts)
                {
                    var dh = new float[hidden.Length];
                    var dw = new float[weight.Length];
                    LinearDistillation.LossAndGradients(hidden, weight, t, At, dh, dw, o with { MaxDegreeOfParallelism = threads });
                    string what = $"{width} {name} {optionName} t{threads}";
                    if (first != null)
                    {
                        Assert.True(dw.AsSpan().SequenceEqual(first) && dh.AsSpan().SequenceEqual(firstDh), $"{what}: not bitwise the result of one thread");
                        continue;
                    }

                    (first, firstDh) = (dw, dh);
                    for (int r = 0; r < At.Length; r++)
                    {
                        double e = expected[(r * V) + At[r]], actual = dw[(At[r] * At.Length) + r];
                        if (!(Math.Abs(actual - e) <= 2e-5 * Math.Abs(e)))
                        {
                            failures.Add($"{what} row {r}: expected {e:E6}, got {actual:E6} ({Math.Abs(actual - e) / Math.Abs(e):E2} relative)");
                        }
                    }
                }

                // Each row alone: its dh bitwise the same as in the batch (Sum).
                for (int r = 0; r < (o.Reduction == Reduction.Sum ? At.Length : 0); r++)
                {
                    var dh = new float[At.Length];
                    LinearDistillation.LossAndGradients(hidden.AsSpan(r * At.Length, At.Length), weight, t.AsSpan(r * V, V), At.AsSpan(r, 1), dh, new float[weight.Length], o);
                    Assert.True(dh.AsSpan().SequenceEqual(firstDh.AsSpan(r * At.Length, At.Length)), $"{width} {name} {optionName} row {r}: dh alone differs");
                }
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(40)));
    }

    /// <summary>
    /// Student and teacher logits [4, V] leading at <see cref="At"/>: tails drawn apart (one row's agree to 1.3e-4), and
    /// a teacher whose tail is the student's in another order with one logit raised, so that the tails agree to 1e-4.
    /// </summary>
    private static IEnumerable<(string Name, float[] Student, float[] Teacher, float T)> Rows()
    {
        int n = At.Length;
        var random = new Random(7);
        float[] s = [.. Enumerable.Range(0, n * V).Select(_ => (2 * random.NextSingle()) - 1)];
        float[] t = [.. Enumerable.Range(0, n * V).Select(_ => (2 * random.NextSingle()) - 1)];
        float[] shuffled = new float[n * V];
        for (int r = 0; r < n; r++)
        {
            var row = s.AsSpan(r * V, V).ToArray();
            random.Shuffle(row);
            row[(At[r] + 1) % V] = MathF.Log(MathF.Exp(row[(At[r] + 1) % V]) + (1e-4f * V * 1.1752f)); // + 1e-4 of the tail (mean e^u 1.1752)
            row.CopyTo(shuffled, r * V);
        }

        float[] Lead(float[] x, float lead)
        {
            var y = (float[])x.Clone();
            for (int r = 0; r < n; r++)
            {
                y[(r * V) + At[r]] = lead;
            }

            return y;
        }

        yield return ("both 20", Lead(s, 20f), Lead(t, 20f), 1f);
        yield return ("both 25", Lead(s, 25f), Lead(t, 25f), 1f);
        yield return ("student 20, teacher 19.5", Lead(s, 20f), Lead(t, 19.5f), 1f);
        yield return ("both 40 at T 2", Lead(s, 40f), Lead(t, 40f), 2f);
        yield return ("both 10 at T 0.5", Lead(s, 10f), Lead(t, 10f), 0.5f);
        yield return ("tails alike, 20", Lead(s, 20f), Lead(shuffled, 20f), 1f);
    }

    /// <summary>Forward KL, Sum; Mean with an upstream of 0.5; with the hard term at T 1 (target: the lead).</summary>
    private static IEnumerable<(string Name, DistillationOptions Options)> Options(float temperature)
    {
        yield return ("Sum", new() { Beta = 0f, Temperature = temperature, Reduction = Reduction.Sum });
        yield return ("Mean, upstream 0.5", new() { Beta = 0f, Temperature = temperature, Upstream = 0.5f });
        if (temperature == 1f)
        {
            yield return ("hard 0.5", new() { Beta = 0f, HardLossWeight = 0.5f, Reduction = Reduction.Sum });
        }
    }
}
