using Xent.Tests.Core;

namespace Xent.Tests.BatchInvariance;

/// <summary>
/// The fused heads' promise: a token's loss, log-sum-exp and (with Sum) dh are bitwise the same alone or in any batch,
/// at any position and thread count, for <see cref="LinearCrossEntropy"/> and <see cref="LinearDistillation"/>.
/// V = 600 spans two of LinearCrossEntropy's vocabulary groups, with batches up to 8192 tokens (D is small so that
/// they stay fast); V = 4500 spans two of LinearDistillation's too, with batches up to 300 tokens.
/// </summary>
public class LinearBatchInvarianceTests
{
    private const int D = 8;
    private const int TeacherD = 6;

    private static float[] Values(int count, int seed, float scale)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => scale * BatchTrials.Uniform(random))];
    }

    /// <summary>A token's student and teacher hidden states side by side: [D + D_t].</summary>
    private static float[][] Fused(Head head, float[] tokens, int[] y, int threads)
    {
        var (weight, teacherWeight, bias) = head;
        int v = bias.Length;
        int n = y.Length;
        var hidden = new float[n * D];
        var teacher = new float[n * TeacherD];
        for (int t = 0; t < n; t++)
        {
            tokens.AsSpan(t * (D + TeacherD), D).CopyTo(hidden.AsSpan(t * D));
            tokens.AsSpan((t * (D + TeacherD)) + D, TeacherD).CopyTo(teacher.AsSpan(t * TeacherD));
        }

        var r = new float[n];
        var lse = new float[n];
        var dh = new float[n * D];
        var options = new CrossEntropyOptions { Reduction = Reduction.Sum, MaxDegreeOfParallelism = threads };
        LinearCrossEntropy.LossPerRow(hidden, weight, bias, y, r, lse, options);
        LinearCrossEntropy.LossAndGradients(hidden, weight, bias, y, new(dh, new float[v * D], new float[v]), options: options);

        var rd = new float[n];
        var dhd = new float[n * D];
        var distill = new DistillationOptions { Beta = 0.3f, Temperature = 2f, HardLossWeight = 0.5f, Reduction = Reduction.Sum, MaxDegreeOfParallelism = threads };
        LinearDistillation.LossPerRow(hidden, weight, teacher, teacherWeight, y, rd, distill);
        LinearDistillation.LossAndGradients(hidden, weight, teacher, teacherWeight, y, dhd, new float[v * D], distill);
        return [r, lse, dh, rd, dhd];
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void TokenRows(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        var probe = Values(D + TeacherD, 4, 1f);
        foreach (var (v, maxBatch, trials) in new[] { (600, BatchTrials.MaxBatch, 5), (4500, 300, 2) })
        {
            var head = new Head(Values(v * D, 1, 0.5f), Values(v * TeacherD, 2, 0.5f), Values(v, 3, 0.1f));
            int probeTarget = v - 23;
            var alone = Fused(head, probe, [probeTarget], 1);
            int seed = 0;
            foreach (var (batch, position, threads) in BatchTrials.Draw(11 + (int)width, trials, maxBatch))
            {
                seed++;
                var x = BatchTrials.Embed<float>(probe, batch, position, seed, BatchTrials.Uniform);
                var y = BatchTrials.Targets(probeTarget, batch, position, v, seed);
                var outputs = Fused(head, x, y, threads);
                for (int k = 0; k < outputs.Length; k++)
                {
                    int length = alone[k].Length; // 1 for per-row outputs, D for dh
                    BatchTrials.SameBits(alone[k], outputs[k].AsSpan(position * length, length), $"V {v} output {k}, row {position} of {batch}, {threads} threads, {width}");
                }
            }
        }
    }

    /// <summary>One head's weights: student W [V, D], teacher W_t [V, D_t], bias [V].</summary>
    private sealed record Head(float[] Weight, float[] TeacherWeight, float[] Bias);
}
