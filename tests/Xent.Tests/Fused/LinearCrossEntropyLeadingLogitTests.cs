using Xent.Reference;
using Xent.Tests.Core;

namespace Xent.Tests.Fused;

/// <summary>
/// A confident token (one logit 25, the rest near (-1, 1)) through the fused head: its loss is the sum of the other
/// terms, V e^-25 (under 1e-6 here), so every float rounding at the scale of the max's term 1 loses a share of it. The
/// tiles fold left to right, so the target in a later tile than the first moves the running max from about 1 to 25;
/// the old max's own term, e^-24, then went to the sum beside that 1 and was dropped: 2.4e-3 of the loss at V = 1000
/// and 7e-5 at 32,000, at every width. Each token must keep its loss, dz[y] = p[y] - 1 (read from dW, where it is one
/// product) and log p[y] to a few float roundings, with the target in the first tile, the second, a later group and
/// the last class, at D = 8 (the logits as given) and D = 64 (a hidden state's other coordinates adding small
/// logits), and keep its bits alone as in the batch. The hidden states and weights are multiples of 1/8 and 1/256,
/// so every logit is exact in float whatever the product's order, and the float64 reference sees the kernel's logits.
/// </summary>
public class LinearCrossEntropyLeadingLogitTests
{
    private const double Tolerance = 4e-6;
    private const int Tokens = 8;

    private static readonly int[] Lengths = [200, 300, 600, 1000, 4500, 32000];

    [Fact]
    public void LossGradientAndLogProbabilityKeepTheSmallLoss() => Check(softCap: 0f, Tolerance);

    /// <summary>
    /// With a soft cap of 30 the lead is 20.5 (so the loss is about e^4 larger). The kernel caps in float, the reference
    /// in double: the capped target logit's rounding alone is a relative error of the loss up to half an ulp of 20.5
    /// (about 1e-6) and the tanh's few more, as in the plain kernel, hence the wider tolerance.
    /// </summary>
    [Fact]
    public void SoftCappedRowsKeepTheSmallLoss() => Check(softCap: 30f, 1e-5);

    [Fact]
    public void BFloat16OperandsKeepTheSmallLoss()
    {
        foreach (int v in Lengths)
        {
            var (hidden, weight, targets) = Problem(v, 64);
            var h = hidden.Select(x => (BFloat16)x).ToArray();
            var w = weight.Select(x => (BFloat16)x).ToArray();
            Assert.Equal(hidden, h.Select(x => (float)x));
            Assert.Equal(weight, w.Select(x => (float)x));
            double[] expected = new LinearReference(hidden, weight, null, targets, new CrossEntropyOptions()).RowLosses;
            foreach (var width in Simd.Supported())
            {
                using var scope = Simd.Override(width);
                var losses = new float[Tokens];
                LinearCrossEntropy.LossPerRow(h, w, default, targets, losses);
                var dh = new float[hidden.Length];
                var dw = new float[weight.Length];
                var options = new CrossEntropyOptions { Reduction = Reduction.Sum };
                float summed = LinearCrossEntropy.LossAndGradients(h, w, targets, new LinearCrossEntropyGradients(dh, dw), options);
                for (int t = 0; t < Tokens; t++)
                {
                    Close.Scalar(expected[t], losses[t], relative: Tolerance, absolute: 0, what: $"V {v} {width} token {t} (target {targets[t]})");
                }

                Close.Scalar(expected.Sum(), summed, relative: Tolerance, absolute: 0, what: $"V {v} {width} LossAndGradients");
            }
        }
    }

    private static void Check(float softCap, double tolerance)
    {
        foreach (int d in new[] { Tokens, 64 })
        {
            foreach (int v in Lengths)
            {
                var (hidden, weight, targets) = Problem(v, d);
                var options = new CrossEntropyOptions { SoftCap = softCap, Reduction = Reduction.Sum };
                var reference = new LinearReference(hidden, weight, null, targets, options);
                double[] expected = reference.RowLosses;
                foreach (var width in Simd.Supported())
                {
                    using var scope = Simd.Override(width);
                    var losses = new float[Tokens];
                    LinearCrossEntropy.LossPerRow(hidden, weight, default, targets, losses, default, options);
                    var dh = new float[hidden.Length];
                    var dw = new float[weight.Length];
                    float summed = LinearCrossEntropy.LossAndGradients(hidden, weight, targets, new LinearCrossEntropyGradients(dh, dw), options);
                    float loss = LinearCrossEntropy.Loss(hidden, weight, targets, options);
                    var logP = new float[Tokens];
                    LinearCrossEntropy.LogProbabilities(hidden, weight, default, targets, logP, default, default, options with { Reduction = Reduction.None });
                    for (int t = 0; t < Tokens; t++)
                    {
                        string what = $"D {d} V {v} {width} token {t} (target {targets[t]})";
                        Close.Scalar(expected[t], losses[t], relative: tolerance, absolute: 0, what: $"{what} loss");
                        Close.Scalar(-expected[t], logP[t], relative: tolerance, absolute: 0, what: $"{what} log p");

                        // dW[y, t] = sum_s dz[s, y] h[s, t], and h[s, t] = 0 for every other token s: just dz[t, y].
                        double dzy = reference.Gradient[(t * v) + targets[t]];
                        Close.Scalar(dzy, dw[(targets[t] * d) + t], relative: tolerance, absolute: 0, what: $"{what} dz[y]");

                        // Each token chooses its own sums (batch invariance): alone, the same bits.
                        var alone = new float[1];
                        LinearCrossEntropy.LossPerRow(hidden.AsSpan(t * d, d), weight, default, targets.AsSpan(t, 1), alone, default, options);
                        Assert.True(alone[0] == losses[t], $"{what}: alone {alone[0]:R}, in the batch {losses[t]:R}");
                    }

                    Close.Scalar(expected.Sum(), summed, relative: tolerance, absolute: 0, what: $"D {d} V {v} {width} LossAndGradients");
                    Close.Scalar(expected.Sum(), loss, relative: tolerance, absolute: 0, what: $"D {d} V {v} {width} Loss");
                }
            }
        }
    }

    /// <summary>
    /// Tokens hidden [8, d] and weight [v, d]: token t's coordinate t is 1 and the other tokens' 0, so that its target
    /// row's 25 there reaches it alone; every other weight and the coordinates from 8 on are small multiples of 1/256
    /// and 1/8. Targets: the first class, the first of the second tile (252), one past the first group's tiles, the
    /// middle, further on, and the last.
    /// </summary>
    private static (float[] Hidden, float[] Weight, int[] Targets) Problem(int v, int d)
    {
        var random = new Random(v + d);
        int[] candidates = [0, 252, 260, 505, v / 2, (v * 7) / 11, v - 5, v - 1];
        var targets = new int[Tokens];
        var used = new HashSet<int>();
        for (int t = 0; t < Tokens; t++)
        {
            int y = candidates[t] % v;
            while (!used.Add(y))
            {
                y = (y + 37) % v;
            }

            targets[t] = y;
        }

        var hidden = new float[Tokens * d];
        for (int t = 0; t < Tokens; t++)
        {
            hidden[(t * d) + t] = 1f;
            for (int k = Tokens; k < d; k++)
            {
                hidden[(t * d) + k] = random.Next(-8, 9) / 8f;
            }
        }

        var weight = new float[v * d];
        for (int c = 0; c < v; c++)
        {
            for (int k = 0; k < d; k++)
            {
                weight[(c * d) + k] = k < Tokens ? random.Next(-255, 256) / 256f : random.Next(-16, 17) / 256f;
            }
        }

        for (int t = 0; t < Tokens; t++)
        {
            weight[(targets[t] * d) + t] = 25f;
        }

        return (hidden, weight, targets);
    }
}
