namespace Xent.Tests.BatchInvariance;

/// <summary>
/// The fused heads' promise: a token's loss, log-sum-exp and (with Sum) dh are bitwise the same alone or in any batch,
/// at any position and thread count, for <see cref="LinearCrossEntropy"/> and <see cref="LinearDistillation"/>.
/// V = 600 spans two of LinearCrossEntropy's vocabulary groups (the parallel tasks); D is small so that 8192 tokens stay fast.
/// </summary>
public class LinearBatchInvarianceTests
{
    private const int V = 600;
    private const int D = 8;
    private const int TeacherD = 6;

    public static TheoryData<VectorWidth> Widths() => new(Simd.Supported());

    private static readonly float[] Weight = Values(V * D, 1, 0.5f);
    private static readonly float[] TeacherWeight = Values(V * TeacherD, 2, 0.5f);
    private static readonly float[] Bias = Values(V, 3, 0.1f);

    private static float[] Values(int count, int seed, float scale)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => scale * BatchTrials.Uniform(random))];
    }

    /// <summary>A token's student and teacher hidden states side by side: [D + D_t].</summary>
    private static float[][] Fused(float[] tokens, int[] y, int threads)
    {
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
        var options = new LinearCrossEntropyOptions { CrossEntropy = new() { Reduction = Reduction.Sum, MaxDegreeOfParallelism = threads } };
        LinearCrossEntropy.LossAndGradients(hidden, Weight, Bias, y, dh, new float[V * D], new float[V], r, lse, options);

        var rd = new float[n];
        var dhd = new float[n * D];
        var distill = new DistillationOptions { Beta = 0.3f, Temperature = 2f, HardLossWeight = 0.5f, Reduction = Reduction.Sum, MaxDegreeOfParallelism = threads };
        LinearDistillation.LossPerRow(hidden, Weight, teacher, TeacherWeight, y, rd, distill);
        LinearDistillation.LossAndGradients(hidden, Weight, teacher, TeacherWeight, y, dhd, new float[V * D], distill);
        return [r, lse, dh, rd, dhd];
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void TokenRows(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        var probe = Values(D + TeacherD, 4, 1f);
        const int probeTarget = 577;
        var alone = Fused(probe, [probeTarget], 1);
        int seed = 0;
        foreach (var (batch, position, threads) in BatchTrials.Draw(11 + (int)width, 5))
        {
            seed++;
            var x = BatchTrials.Embed<float>(probe, batch, position, seed, BatchTrials.Uniform);
            var y = BatchTrials.Targets(probeTarget, batch, position, V, seed);
            var outputs = Fused(x, y, threads);
            for (int k = 0; k < outputs.Length; k++)
            {
                int length = alone[k].Length; // 1 for per-row outputs, D for dh
                BatchTrials.SameBits(alone[k], outputs[k].AsSpan(position * length, length), $"output {k}, row {position} of {batch}, {threads} threads, {width}");
            }
        }
    }
}
