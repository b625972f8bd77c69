using Xent.Reference;
using Xent.Tests.Core;

namespace Xent.Tests.Distillation;

/// <summary>
/// Confident rows, the common case late in distillation: one logit 20 or 30 above the rest in (-1, 1), V 32000, in the
/// student, the teacher, both at the same class or at different ones, and a teacher equal to the student. A confident
/// row's numbers are small beside its max's term 1: its log-sum-exp less the max, log(1 + 7.8e-5) at a lead of 20
/// (3.5e-9 at 30), the hard term's loss when the target is the max, and the centred gradients at the max, Q (w -
/// E_Q[w]) with w most of E_Q[w]. Beside the 1 a float sum drops every term under 2^-25, and the kernel's sums held
/// it: the hard term's loss was 5e-4 (512 bits) to 1.5e-2 (scalar) off, 1.6e-2 at every width at a lead of 30; the
/// forward KL's gradient at a shared max up to 7 times its scale, the reverse KL's and the mixture's at a confident
/// student's max 1e-3 to 2e-2 of theirs (about 1 at a lead of 30). The kernel keeps each sum's max's terms apart,
/// the softmax scales and the centres in two floats, the hard target's r - 1 in double and the mixture's log(Q/M)
/// near P = Q by a series. The float64 reference keeps them too (log1p of the sum less the max's term).
/// </summary>
public class DistillationDominantLogitTests
{
    private const int V = 32000;

    // First, middle, in the last whole tile, and in the last (partial) tile.
    private static readonly int[] At = [0, 12345, 31900, V - 3];

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void LossesKeepTheConfidentRowsSmallNumbers(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        var failures = new List<string>();
        foreach (float lead in new[] { 20f, 30f })
        {
            foreach (var (name, s, t) in Rows(lead, alike: true))
            {
                foreach (var (optionName, o) in Options())
                {
                    var expected = DistillationReference.RowLosses(OneHotHead.Wide(s), OneHotHead.Wide(t), At, o);
                    var (hidden, weight) = OneHotHead.Of(s, At.Length);
                    var rows = new float[At.Length];
                    LinearDistillation.LossPerRow(hidden, weight, t, At, rows, o);
                    float loss = LinearDistillation.LossAndGradients(hidden, weight, t, At, new float[hidden.Length], new float[weight.Length], o);
                    string what = $"{width} lead {lead} {name} {optionName}";
                    for (int r = 0; r < At.Length; r++)
                    {
                        Check(expected[r], rows[r], 5e-5, $"{what} row {r}", failures);
                    }

                    Check(expected.Sum(), loss, 5e-5, $"{what} Sum", failures);
                }
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(40)));
    }

    /// <summary>
    /// The logits gradient (dW with one-hot hidden rows) against the reference, as its max error over the row's largest
    /// element: 2e-3 at a lead of 20 (T 1 and 2) and 10 (T 0.5), 1e-4 at a lead of 30 at T 1, where the forward KL's
    /// gradient at a shared max is the difference of two tails of 3.5e-9 that agree to 1e-2 of themselves (both the
    /// kernel and the reference take it from the tails: within 5.1e-6; the reference's q_a sum P - p_a was itself 1.2e-2
    /// off there, and this tolerance 3e-2). Bitwise the same at every thread count.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void GradientsKeepTheConfidentRowsSmallNumbers(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        var failures = new List<string>();
        foreach (var (lead, temperatures, tolerance) in new[] { (20f, new[] { 1f, 2f }, 2e-3), (10f, new[] { 0.5f }, 2e-3), (30f, new[] { 1f }, 1e-4) })
        {
            foreach (var (name, s, t) in Rows(lead, alike: false))
            {
                foreach (var (optionName, o) in Options().Where(x => temperatures.Contains(x.Options.Temperature)))
                {
                    var expected = DistillationReference.Gradient(OneHotHead.Wide(s), OneHotHead.Wide(t), At, o);
                    var (hidden, weight) = OneHotHead.Of(s, At.Length);
                    float[]? first = null;
                    foreach (int threads in TestData.ThreadCounts)
                    {
                        var dw = new float[weight.Length];
                        LinearDistillation.LossAndGradients(hidden, weight, t, At, new float[hidden.Length], dw, o with { MaxDegreeOfParallelism = threads });
                        string what = $"{width} lead {lead} {name} {optionName} t{threads}";
                        if (first != null)
                        {
                            Assert.True(dw.AsSpan().SequenceEqual(first), $"{what}: not bitwise the result of one thread");
                            continue;
                        }

                        first = dw;
                        for (int r = 0; r < At.Length; r++)
                        {
                            double scale = 0, error = 0;
                            for (int c = 0; c < V; c++)
                            {
                                double e = expected[(r * V) + c];
                                scale = Math.Max(scale, Math.Abs(e));
                                error = Math.Max(error, Math.Abs(e - dw[(c * At.Length) + r]));
                            }

                            if (!(error <= tolerance * scale))
                            {
                                failures.Add($"{what} row {r}: max error {error:E3}, {error / scale:E2} of the row's largest {scale:E3}");
                            }
                        }
                    }
                }
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(40)));
    }

    /// <summary>
    /// A teacher equal to the student: every divergence and its gradient are exactly 0, confident rows or not (the
    /// mixture's log(Q/M) from the float M gave 1e-14 for the loss and gradients of 1e-8 q).
    /// </summary>
    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void ATeacherEqualToTheStudentGivesExactlyZero(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        foreach (float lead in new[] { 0f, 10f, 20f, 30f })
        {
            var (_, s, _) = Rows(lead, alike: false).First();
            var (hidden, weight) = OneHotHead.Of(s, At.Length);
            foreach (var (optionName, o) in Options().Where(x => x.Options.HardLossWeight == 0))
            {
                string what = $"{width} lead {lead} {optionName}";
                var rows = new float[At.Length];
                LinearDistillation.LossPerRow(hidden, weight, s, At, rows, o);
                Assert.All(rows, x => Assert.True(x == 0f, $"{what}: row loss {x}"));
                var dw = new float[weight.Length];
                float loss = LinearDistillation.LossAndGradients(hidden, weight, s, At, new float[hidden.Length], dw, o);
                Assert.True(loss == 0f, $"{what}: loss {loss}");
                int nonzero = Array.FindIndex(dw, x => x != 0f);
                Assert.True(nonzero < 0, $"{what}: dW[{nonzero}] = {(nonzero < 0 ? 0 : dw[nonzero])}");
            }
        }
    }

    /// <summary>Student and teacher logits [4, V], the lead at <see cref="At"/> (the teacher's at the next row's place for "both, apart").</summary>
    private static IEnumerable<(string Name, float[] Student, float[] Teacher)> Rows(float lead, bool alike)
    {
        int n = At.Length;
        var random = new Random(7);
        float[] Uniform() => [.. Enumerable.Range(0, n * V).Select(_ => (2 * random.NextSingle()) - 1)];
        float[] Lead(float[] x, Func<int, int> at)
        {
            var y = (float[])x.Clone();
            for (int r = 0; r < n; r++)
            {
                y[(r * V) + at(r)] = lead;
            }

            return y;
        }

        float[] s = Uniform(), t = Uniform();
        yield return ("student", Lead(s, r => At[r]), t);
        yield return ("teacher", s, Lead(t, r => At[r]));
        yield return ("both, same class", Lead(s, r => At[r]), Lead(t, r => At[r]));
        yield return ("both, apart", Lead(s, r => At[r]), Lead(t, r => At[(r + 1) % n]));
        if (alike)
        {
            // Alike rows (a divergence of 1e-9 at a lead of 20, 6e-14 at 30): their loss, not their gradient, whose
            // scale is the difference of the two tails and below the float rounding of x - m at |x - m| of 20.
            float[] near = [.. s.Select(x => x + (0.01f * ((2 * random.NextSingle()) - 1)))];
            yield return ("both, alike", Lead(s, r => At[r]), Lead(near, r => At[r]));
        }
    }

    /// <summary>Forward KL, reverse KL and the JSD at T 1, 0.5 and 2, without and with a hard term (target: the student's max).</summary>
    private static IEnumerable<(string Name, DistillationOptions Options)> Options()
    {
        foreach (float beta in new[] { 0f, 1f, 0.5f })
        {
            foreach (float temperature in new[] { 1f, 0.5f, 2f })
            {
                foreach (float hard in new[] { 0f, 0.5f })
                {
                    yield return ($"beta {beta} T {temperature} hard {hard}", new() { Beta = beta, Temperature = temperature, HardLossWeight = hard, Reduction = Reduction.Sum });
                }
            }
        }

        yield return ("hard only", new() { SoftLossWeight = 0f, HardLossWeight = 1f, Reduction = Reduction.Sum });
    }

    private static void Check(double expected, float actual, double relative, string what, List<string> failures)
    {
        if (!(Math.Abs(actual - expected) <= relative * Math.Abs(expected)))
        {
            failures.Add($"{what}: expected {expected:E6}, got {actual:E6} ({Math.Abs(actual - expected) / Math.Abs(expected):E2} relative)");
        }
    }
}
