using Xent.Distillation;
using Xent.Reference;
using Xent.Tests.Core;

namespace Xent.Tests.Distillation;

/// <summary>The fused distillation loss and gradients against the float64 reference, and the reference against finite differences.</summary>
public class LinearDistillationTests
{

    private static IEnumerable<(string Name, DistillationOptions Options)> Cases()
    {
        foreach (float beta in new[] { 0f, 1f, 0.5f, 0.3f })
        {
            yield return ($"beta {beta}", new() { Beta = beta });
            yield return ($"beta {beta} T 2 hard 0.5 Sum", new() { Beta = beta, Temperature = 2f, HardLossWeight = 0.5f, SoftLossWeight = 0.7f, Reduction = Reduction.Sum, Upstream = 0.5f });
        }

        yield return ("hard only, T 0.5", new() { Temperature = 0.5f, SoftLossWeight = 0f, HardLossWeight = 1f });
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void MatchesTheReference(VectorWidth width)
    {
        using var scope = Simd.Override(width);

        // V = 9000: three groups, each with a partial last tile; N = 515: a full token block and a partial one.
        foreach (var (rows, v, d, dt) in new[] { (5, 37, 6, 9), (515, 600, 5, 3), (3, 9000, 4, 7) })
        {
            var x = new DistillationData(rows, v, d, dt, seed: rows + v, scale: 1.5f, ignoreEvery: 4);
            foreach (var (name, o) in Cases())
            {
                string what = $"{rows}x{v}x{d} {name} {width}";
                var dh = new float[rows * d];
                var dw = new float[v * d];
                float loss = x.LossAndGradients(o, dh, dw);
                Close.Scalar(x.ReferenceLoss(o), loss, relative: 1e-5, absolute: 1e-6, what: what);
                Assert.Equal(loss, LinearDistillation.Loss(x.StudentHidden, x.StudentWeight, x.TeacherHidden, x.TeacherWeight, x.Targets, o));
                var (eh, ew) = x.ReferenceGradients(o);
                Close.Gradient(eh, dh, eh.Length, relative: 1e-4, floor: 1e-5, what: what + " dh");
                Close.Gradient(ew, dw, ew.Length, relative: 1e-4, floor: 1e-5, what: what + " dW");

                var r = new float[rows];
                LinearDistillation.LossPerRow(x.StudentHidden, x.StudentWeight, x.TeacherHidden, x.TeacherWeight, x.Targets, r, o);
                Close.Vector(x.ReferenceRows(o), r, relative: 1e-5, absolute: 1e-6, what: what + " rows");

                // Teacher logits instead of the teacher's hidden states: the same numbers, bitwise.
                var dh2 = new float[rows * d];
                var dw2 = new float[v * d];
                Assert.Equal(loss, LinearDistillation.LossAndGradients(x.StudentHidden, x.StudentWeight, x.TeacherLogits, x.Targets, dh2, dw2, o));
                Assert.Equal(dh, dh2);
                Assert.Equal(dw, dw2);
                var r2 = new float[rows];
                LinearDistillation.LossPerRow(x.StudentHidden, x.StudentWeight, x.TeacherLogits, x.Targets, r2, o);
                Assert.Equal(r, r2);
            }
        }
    }

    /// <summary>
    /// A student close to its teacher: divergences of 1e-5 or so, where the float lanes (and, for the KL divergences,
    /// the folded sums E_P[t - s] - lse(t) + lse(s)) must not lose them to cancellation.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void SmallDivergencesKeepTheirRelativeAccuracy(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        const int rows = 6, v = 5000, d = 8;
        var x = new DistillationData(rows, v, d, d, seed: 12, scale: 1.5f);
        var random = new Random(4);
        var teacherWeight = x.StudentWeight.Select(w => w * (1 + (0.003f * ((2 * random.NextSingle()) - 1)))).ToArray();
        var exact = DistillationReference.Logits(x.StudentHidden, teacherWeight, rows);
        foreach (float beta in new[] { 0f, 1f, 0.5f })
        {
            var o = new DistillationOptions { Beta = beta, Temperature = 1.3f };
            var r = new float[rows];
            LinearDistillation.LossPerRow(x.StudentHidden, x.StudentWeight, x.StudentHidden, teacherWeight, x.Targets, r, o);
            var expected = DistillationReference.RowLosses(x.StudentLogits, exact, x.Targets, o);
            Assert.All(expected, e => Assert.InRange(e, 1e-7, 1e-3));
            Close.Vector(expected, r, relative: 2e-4, absolute: 0, what: $"beta {beta} {width}");
        }
    }

    [Fact]
    public void ThreadCountsGiveBitwiseTheSameResult()
    {
        var x = new DistillationData(140, 13000, 5, 4, seed: 3, ignoreEvery: 5);
        var o = new DistillationOptions { Beta = 0.4f, Temperature = 1.5f, HardLossWeight = 0.25f };
        float[]? dh0 = null, dw0 = null;
        float loss0 = 0;
        foreach (int threads in TestData.ThreadCounts)
        {
            var dh = new float[x.N * x.D];
            var dw = new float[x.V * x.D];
            float loss = x.LossAndGradients(o with { MaxDegreeOfParallelism = threads }, dh, dw);
            if (dh0 == null)
            {
                (dh0, dw0, loss0) = (dh, dw, loss);
                continue;
            }

            Assert.Equal(loss0, loss);
            Assert.Equal(dh0, dh);
            Assert.Equal(dw0, dw);
        }
    }

    /// <summary>The reference's gradient against central differences of its own loss, in double, in the student logits.</summary>
    [Fact]
    public void ReferenceGradientMatchesFiniteDifferences()
    {
        const int rows = 3, v = 6;
        var random = new Random(9);
        var s = Enumerable.Range(0, rows * v).Select(_ => (4 * random.NextDouble()) - 2).ToArray();
        var t = Enumerable.Range(0, rows * v).Select(_ => (4 * random.NextDouble()) - 2).ToArray();
        int[] y = [2, -100, 5];
        foreach (var (name, o) in Cases())
        {
            var g = DistillationReference.Gradient(s, t, y, o);
            const double h = 1e-5;
            for (int i = 0; i < s.Length; i++)
            {
                double keep = s[i];
                s[i] = keep + h;
                double plus = DistillationReference.Loss(s, t, y, o);
                s[i] = keep - h;
                double minus = DistillationReference.Loss(s, t, y, o);
                s[i] = keep;
                Close.Scalar(o.Upstream * (plus - minus) / (2 * h), g[i], relative: 1e-6, absolute: 1e-8, what: $"{name} [{i}]");
            }
        }
    }

    /// <summary>
    /// The reference's gradient at a class where the student and the teacher both lead (V 32000, one logit 20 to 30 / T
    /// above the rest in (-1, 1), the teacher's tail drawn apart from the student's or the same values reordered with
    /// one raised by 1e-4 of the tail). A softmax's gradient sums to 0 over the row, so the lead's must be minus the sum
    /// of the other columns, which are small and keep their own relative accuracy (summed here with compensation; they
    /// go through sum P, 1 to a few ulps, so the check is good to about 2e-10). The forward KL's q_a sum P - p_a, the
    /// difference of two numbers near 1, was 1e-4 (lead 25) to 3e-2 (lead 30) off where the tails agree to 1e-4; taken
    /// from the tails, within 2e-13 of a 40-digit computation. The reverse KL and the JSD were within 2e-13 already. The
    /// hard term (target: the lead) sums to 0 too; its r_y - 1 as exp(log r_y) - 1 kept an ulp of 1 of minus the raw
    /// tail, 2.3e-4 off at a raw lead of 40 (hard only); as expm1, within 1e-10.
    /// </summary>
    [Fact]
    public void ReferenceGradientAtASharedLeadIsMinusTheOtherColumns()
    {
        const int v = 32000;
        int[] at = [0, 12345, 31900, v - 3];
        var random = new Random(7);
        double[] Uniform() => [.. Enumerable.Range(0, at.Length * v).Select(_ => (2 * random.NextDouble()) - 1)];
        double[] s = Uniform(), apart = Uniform(), alike = new double[s.Length];
        for (int r = 0; r < at.Length; r++)
        {
            var row = s.AsSpan(r * v, v).ToArray();
            random.Shuffle(row);
            row[(at[r] + 1) % v] = Math.Log(Math.Exp(row[(at[r] + 1) % v]) + (1e-4 * v * 1.1752)); // + 1e-4 of the tail (mean e^u 1.1752)
            row.CopyTo(alike, r * v);
        }

        double[] Lead(double[] x, double lead)
        {
            var y = (double[])x.Clone();
            for (int r = 0; r < at.Length; r++)
            {
                y[(r * v) + at[r]] = lead;
            }

            return y;
        }

        var failures = new List<string>();
        foreach (var (lead, temperature) in new[] { (20.0, 1f), (25.0, 1f), (30.0, 1f), (40.0, 2f), (10.0, 0.5f) })
        {
            foreach (var (tailName, teacher) in new[] { ("tails apart", apart), ("tails alike", alike) })
            {
                foreach (var (beta, hard) in new[] { (0f, 0f), (1f, 0f), (0.5f, 0f), (0f, 0.5f), (1f, 0.5f), (0.5f, 0.5f), (0f, 1f) })
                {
                    var o = new DistillationOptions { Beta = beta, Temperature = temperature, HardLossWeight = hard, SoftLossWeight = hard == 1 ? 0 : 1, Reduction = Reduction.Sum };
                    var g = DistillationReference.Gradient(Lead(s, lead), Lead(teacher, lead), at, o);
                    for (int r = 0; r < at.Length; r++)
                    {
                        // Neumaier's compensated sum of the other columns.
                        double sum = 0, low = 0;
                        for (int c = 0; c < v; c++)
                        {
                            if (c != at[r])
                            {
                                double x = g[(r * v) + c], next = sum + x;
                                low += Math.Abs(sum) >= Math.Abs(x) ? (sum - next) + x : (x - next) + sum;
                                sum = next;
                            }
                        }

                        double expected = -(sum + low), actual = g[(r * v) + at[r]], error = Math.Abs(actual - expected) / Math.Abs(expected);
                        if (!(error <= 1e-9))
                        {
                            failures.Add($"lead {lead} T {temperature} {tailName} beta {beta} hard {hard} row {r}: {actual:E10}, minus the others {expected:E10} ({error:E2} relative)");
                        }
                    }
                }
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    /// <summary>The fused kernel's dh against central differences of its own loss (float, so a coarse step).</summary>
    [Fact]
    public void FusedGradientMatchesFiniteDifferencesOfTheFusedLoss()
    {
        var x = new DistillationData(4, 300, 3, 5, seed: 21);
        var o = new DistillationOptions { Beta = 0.7f, Temperature = 1.7f, HardLossWeight = 0.3f, Reduction = Reduction.Sum };
        var dh = new float[x.N * x.D];
        var dw = new float[x.V * x.D];
        x.LossAndGradients(o, dh, dw);
        const float h = 1e-2f;
        for (int i = 0; i < dh.Length; i++)
        {
            float keep = x.StudentHidden[i];
            x.StudentHidden[i] = keep + h;
            double plus = LinearDistillation.Loss(x.StudentHidden, x.StudentWeight, x.TeacherHidden, x.TeacherWeight, x.Targets, o);
            x.StudentHidden[i] = keep - h;
            double minus = LinearDistillation.Loss(x.StudentHidden, x.StudentWeight, x.TeacherHidden, x.TeacherWeight, x.Targets, o);
            x.StudentHidden[i] = keep;
            Close.Scalar((plus - minus) / (2 * h), dh[i], relative: 2e-2, absolute: 2e-3, what: $"dh[{i}]");
        }
    }

    [Fact]
    public void EdgeCases()
    {
        var x = new DistillationData(6, 50, 4, 4, seed: 5);
        var dh = new float[x.N * x.D];
        var dw = new float[x.V * x.D];

        // Every row ignored: Mean is NaN (PyTorch's 0 / 0), Sum 0, gradients 0.
        x.Targets = [.. x.Targets.Select(_ => -100)];
        dh.AsSpan().Fill(1);
        dw.AsSpan().Fill(1);
        Assert.True(float.IsNaN(x.LossAndGradients(new(), dh, dw)));
        Assert.All(dh, g => Assert.Equal(0f, g));
        Assert.All(dw, g => Assert.Equal(0f, g));
        Assert.Equal(0f, x.LossAndGradients(new() { Reduction = Reduction.Sum }, dh, dw));

        // No rows.
        Assert.True(float.IsNaN(LinearDistillation.Loss([], x.StudentWeight, [], x.TeacherWeight, [])));
        Assert.Equal(0f, LinearDistillation.Loss([], x.StudentWeight, [], x.TeacherWeight, [], new DistillationOptions { Reduction = Reduction.Sum }));

        // V = 1: both softmaxes are 1, every divergence and the cross-entropy are 0.
        var one = new DistillationData(3, 1, 4, 2, seed: 6);
        var dh1 = new float[12];
        var dw1 = new float[4];
        Assert.Equal(0f, one.LossAndGradients(new() { HardLossWeight = 1f }, dh1, dw1));
        Assert.All(dh1, g => Assert.Equal(0f, g));

        // Logits x 1000 (scaled hidden states) stay finite and match the reference.
        var big = new DistillationData(5, 700, 6, 6, seed: 7, scale: 40f);
        foreach (var (name, o) in Cases())
        {
            var dhb = new float[big.N * big.D];
            var dwb = new float[big.V * big.D];
            float loss = big.LossAndGradients(o, dhb, dwb);
            Assert.True(float.IsFinite(loss), name);
            Close.Scalar(big.ReferenceLoss(o), loss, relative: 1e-4, absolute: 1e-3, what: "x1000 " + name);
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void MixtureOfSubnormalProbabilities_StaysFinite(VectorWidth width)
    {
        // V = 2, D = 1: the student's second class has Q = e^-102.88 (a subnormal float) and the teacher's P =
        // e^-125 (0), so beta P + (1 - beta) Q rounds to 0 in float while Q does not: log M was -inf, the loss +inf
        // and the gradients NaN; the true values are tiny and finite. The same with the roles swapped.
        using var scope = Simd.Override(width);
        foreach (float beta in new[] { 0.5f, 0.1f, 0.999f })
        {
            foreach ((float[] student, float[] teacher) in new[] { (new[] { 102.88f, 0f }, new[] { 125f, 0f }), (new[] { 125f, 0f }, new[] { 102.88f, 0f }) })
            {
                foreach (float softWeight in new[] { 1f, 0f })
                {
                    var o = new DistillationOptions { Beta = beta, SoftLossWeight = softWeight, HardLossWeight = 1f - softWeight, Reduction = Reduction.Sum };
                    var dh = new float[1];
                    var dw = new float[2];
                    float loss = LinearDistillation.LossAndGradients([1f], student, teacher, [0], dh, dw, o);
                    double[] s = [student[0], student[1]], t = [teacher[0], teacher[1]];
                    string what = $"beta {beta}, soft weight {softWeight}, student {student[0]}";
                    Close.Scalar(DistillationReference.Loss(s, t, [0], o), loss, what: what);
                    var (eh, ew) = DistillationReference.Backward(DistillationReference.Gradient(s, t, [0], o), [1f], student, 1);
                    Close.Gradient(eh, dh, 1, floor: 1e-30, what: $"{what} dh");
                    Close.Gradient(ew, dw, 2, floor: 1e-30, what: $"{what} dW");
                }
            }
        }
    }

    [Fact]
    public void MaskedTeacherVocabulary()
    {
        // -inf teacher logits (a masked vocabulary): forward KL and JSD stay finite (0 log 0 = 0), and so do their
        // gradients; reverse KL is +inf, as KL(Q || P) is where P has zeros Q does not.
        var x = new DistillationData(4, 40, 3, 3, seed: 8);
        var teacher = (float[])x.TeacherLogits.Clone();
        for (int i = 0; i < teacher.Length; i += 3)
        {
            teacher[i] = float.NegativeInfinity;
        }

        var exact = teacher.Select(value => (double)value).ToArray();
        foreach (float beta in new[] { 0f, 0.5f })
        {
            var o = new DistillationOptions { Beta = beta, Reduction = Reduction.Sum };
            var dh = new float[x.N * x.D];
            var dw = new float[x.V * x.D];
            float loss = LinearDistillation.LossAndGradients(x.StudentHidden, x.StudentWeight, teacher, x.Targets, dh, dw, o);
            Close.Scalar(DistillationReference.Loss(x.StudentLogits, exact, x.Targets, o), loss, relative: 1e-5, what: $"beta {beta}");
            var (eh, _) = DistillationReference.Backward(DistillationReference.Gradient(x.StudentLogits, exact, x.Targets, o), x.StudentHidden, x.StudentWeight, x.N);
            Close.Gradient(eh, dh, eh.Length, relative: 1e-4, floor: 1e-5, what: $"beta {beta} dh");
        }

        Assert.Equal(float.PositiveInfinity, LinearDistillation.Loss(x.StudentHidden, x.StudentWeight, teacher, x.Targets, new DistillationOptions { Beta = 1f }));
    }

    [Fact]
    public void NoRows_ZeroTheOverwrittenWeightGradient_AndTakeNoHiddenStates()
    {
        // With N = 0 the call returned before anything was checked or written: dW_s kept whatever it held (the
        // gradient of an empty batch is 0, and LinearCrossEntropy writes it), and hidden states for no rows were accepted.
        var x = new DistillationData(4, 30, 3, 2, seed: 1);
        var dw = Enumerable.Repeat(1f, 90).ToArray();
        var sum = new DistillationOptions { Reduction = Reduction.Sum };
        Assert.Equal(0f, LinearDistillation.LossAndGradients([], x.StudentWeight, [], x.TeacherWeight, [], [], dw, sum));
        Assert.All(dw, g => Assert.Equal(0f, g));
        dw.AsSpan().Fill(1);
        Assert.Equal(0f, LinearDistillation.LossAndGradients([], x.StudentWeight, [], [], [], dw, sum));
        Assert.All(dw, g => Assert.Equal(0f, g));
        dw.AsSpan().Fill(1);
        Assert.Equal("studentHidden", Assert.Throws<ArgumentException>(() => LinearDistillation.LossAndGradients(x.StudentHidden, x.StudentWeight, [], x.TeacherWeight, [], [], dw, sum)).ParamName);
        Assert.Equal("teacherHidden", Assert.Throws<ArgumentException>(() => LinearDistillation.Loss([], x.StudentWeight, x.TeacherHidden, x.TeacherWeight, [], sum)).ParamName);
        Assert.Equal("teacherLogits", Assert.Throws<ArgumentException>(() => LinearDistillation.LossPerRow([], x.StudentWeight, x.TeacherLogits, [], [], options: sum)).ParamName);
        Assert.All(dw, g => Assert.Equal(1f, g));
    }

    [Fact]
    public void OutputsOverlappingAnInputOrEachOtherThrowBeforeWriting()
    {
        // Each was accepted (found by an API sweep): dW_s over W_s gave wrong numbers, dh and dW_s in one buffer too.
        var x = new DistillationData(4, 30, 3, 2, seed: 1);
        var weight = (float[])x.StudentWeight.Clone();
        var dh = new float[12];
        var both = new float[90];
        var losses = Enumerable.Repeat(7f, 4).ToArray();
        Assert.Equal("weightGradient", Assert.Throws<ArgumentException>(() => LinearDistillation.LossAndGradients(x.StudentHidden, weight, x.TeacherHidden, x.TeacherWeight, x.Targets, dh, weight)).ParamName);
        Assert.Equal("hiddenGradient", Assert.Throws<ArgumentException>(() => LinearDistillation.LossAndGradients(x.StudentHidden, x.StudentWeight, x.TeacherLogits, x.Targets, both.AsSpan(0, 12), both)).ParamName);
        Assert.Equal("losses", Assert.Throws<ArgumentException>(() => LinearDistillation.LossPerRow(x.StudentHidden, x.StudentWeight, x.TeacherLogits, x.Targets, x.TeacherLogits.AsSpan(4, 4))).ParamName);
        Assert.Equal(x.StudentWeight, weight);
        Assert.All(dh.Concat(both), g => Assert.Equal(0f, g));
    }

    [Fact]
    public void BadInputThrowsBeforeWriting()
    {
        var x = new DistillationData(4, 30, 3, 2, seed: 1);
        var dh = new float[12];
        var dw = new float[90];
        void Throws<T>(Action call, string parameter)
            where T : ArgumentException => Assert.Equal(parameter, Assert.Throws<T>(call).ParamName);

        Throws<ArgumentException>(() => LinearDistillation.Loss(x.StudentHidden.AsSpan(1).ToArray(), x.StudentWeight, x.TeacherHidden, x.TeacherWeight, x.Targets), "studentHidden");
        Throws<ArgumentException>(() => LinearDistillation.Loss(x.StudentHidden, x.StudentWeight.AsSpan(1).ToArray(), x.TeacherHidden, x.TeacherWeight, x.Targets), "studentWeight");
        Throws<ArgumentException>(() => LinearDistillation.Loss(x.StudentHidden, x.StudentWeight, x.TeacherHidden, x.TeacherWeight.AsSpan(2).ToArray(), x.Targets), "teacherWeight");
        Throws<ArgumentException>(() => LinearDistillation.Loss(x.StudentHidden, x.StudentWeight, x.TeacherLogits.AsSpan(1).ToArray(), x.Targets), "teacherLogits");
        Throws<ArgumentOutOfRangeException>(() => LinearDistillation.Loss(x.StudentHidden, x.StudentWeight, x.TeacherLogits, [0, 1, 30, 2]), "targets");
        Throws<ArgumentException>(() => LinearDistillation.LossAndGradients(x.StudentHidden, x.StudentWeight, x.TeacherLogits, x.Targets, dh, new float[89]), "weightGradient");
        Throws<ArgumentException>(() => LinearDistillation.LossPerRow(x.StudentHidden, x.StudentWeight, x.TeacherLogits, x.Targets, new float[3]), "losses");
        Throws<ArgumentException>(() => LinearDistillation.Loss(x.StudentHidden, x.StudentWeight, x.TeacherLogits, x.Targets, new DistillationOptions { Reduction = Reduction.None }), "options");
        foreach (var bad in new DistillationOptions[] { new() { Beta = 1.5f }, new() { Beta = float.NaN }, new() { Temperature = 0f }, new() { Temperature = float.PositiveInfinity }, new() { HardLossWeight = float.NaN }, new() { MaxDegreeOfParallelism = 0 }, new() { Reduction = (Reduction)7 } })
        {
            Throws<ArgumentOutOfRangeException>(() => LinearDistillation.LossAndGradients(x.StudentHidden, x.StudentWeight, x.TeacherLogits, x.Targets, dh, dw, bad), "options");
        }

        Assert.All(dh, g => Assert.Equal(0f, g));
        Assert.All(dw, g => Assert.Equal(0f, g));
    }

    [Fact]
    public void ScratchStaysUnderTheIssuesBoundAtQwenScale()
    {
        // [4096 x 1024] x [151936 x 1024]: the buffers are a function of V (16 groups) and D only, far under the
        // issue's 64 MB.
        long bytes = DistillationKernel.ScratchBytes(151936, 1024);
        Assert.True(bytes < 40L << 20, $"{bytes} bytes");
        Assert.Equal(8L * ((2 * 512 * 512) + (512 * 1024)) * sizeof(float), bytes);
    }
}
