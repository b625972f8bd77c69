using Xent.Reference;

namespace Xent.Tests.Core;

/// <summary>
/// Under a soft cap a confident row's loss is (m - z[y]) + log s with m the max of the capped logits: where the target
/// is the max, m - z[y] must be 0 exactly, so the target's capped logit must be the very float its block's lanes
/// gave. Past x / s = 0.625 the tanh takes an exp, and the vector widths' exp is not MathF.Exp: a target capped by
/// the scalar formula was an ulp of z (4e-6 at z = 32) off the max in about one row in three, a loss of 1e-12 then
/// 4e-6 (found by a differential fuzz against the float64 reference).
/// </summary>
public class SoftCapTargetLogitTests
{
    private const float Cap = 50f;

    // The lanes' tanh is good to about 2 ulp: z[y] and each z[c] within 8e-6 of z = 32, the loss within that of itself.
    private const double Tolerance = 3e-5;

    // The kernels' log s, of a double s = 1 + the rest, keeps the rest to an ulp of 1 in double.
    private const double Absolute = 1e-15;

    // One row per lead, each in the tanh's exp branch (x / s from 0.64 to 0.9); the rest of the row in (-1, 1).
    private static (float[] Logits, int[] Targets) Rows(int v)
    {
        var rng = new Random(v);
        int rows = 40;
        var x = new float[rows * v];
        var targets = new int[rows];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (float)((rng.NextDouble() * 2) - 1);
        }

        for (int r = 0; r < rows; r++)
        {
            targets[r] = rng.Next(v);
            x[(r * v) + targets[r]] = 32f + (0.33f * r);
        }

        return (x, targets);
    }

    [Theory]
    [InlineData(64)]
    [InlineData(272)]
    [InlineData(16389)]
    public void TheTargetsCappedLogitIsItsLanes(int v)
    {
        var (x, targets) = Rows(v);
        var options = new CrossEntropyOptions { SoftCap = Cap, Reduction = Reduction.Sum };
        double[] expected = CrossEntropyReference.RowLosses(x, targets, new CrossEntropyOptions { SoftCap = Cap });
        foreach (var width in Simd.Supported())
        {
            using var scope = Simd.Override(width);
            var losses = new float[targets.Length];
            CrossEntropy.LossPerRow(x, targets, losses, options);
            var g = new float[x.Length];
            CrossEntropy.LossAndGradient(x, targets, g, options);
            for (int r = 0; r < targets.Length; r++)
            {
                string what = $"V {v} {width} row {r}";
                Close.Scalar(expected[r], losses[r], relative: Tolerance, absolute: Absolute, what: $"{what} loss");
                double z = Cap * Math.Tanh(x[(r * v) + targets[r]] / Cap), u = z / Cap;
                Close.Scalar(double.ExpM1(-expected[r]) * (1 - (u * u)), g[(r * v) + targets[r]], relative: Tolerance, absolute: Absolute, what: $"{what} dz[y]");
            }
        }
    }

    [Fact]
    public void AShardsTargetLogitIsItsLanes()
    {
        const int v = 272;
        var (x, targets) = Rows(v);
        var options = new CrossEntropyOptions { SoftCap = Cap, Reduction = Reduction.None };
        double[] expected = CrossEntropyReference.RowLosses(x, targets, new CrossEntropyOptions { SoftCap = Cap });
        int[] cuts = [0, 100, 272];
        foreach (var width in Simd.Supported())
        {
            using var scope = Simd.Override(width);
            var merged = Enumerable.Repeat(CrossEntropyShardState.Empty, targets.Length).ToArray();
            for (int k = 0; k + 1 < cuts.Length; k++)
            {
                int w = cuts[k + 1] - cuts[k];
                var shard = new float[targets.Length * w];
                for (int r = 0; r < targets.Length; r++)
                {
                    Array.Copy(x, (r * v) + cuts[k], shard, r * w, w);
                }

                var states = new CrossEntropyShardState[targets.Length];
                CrossEntropyShards.Compute(shard, cuts[k], v, targets, states, options);
                CrossEntropyShards.Merge(states, merged);
            }

            var losses = new float[targets.Length];
            CrossEntropyShards.LossPerRow(merged, targets, v, losses, options);
            for (int r = 0; r < targets.Length; r++)
            {
                Close.Scalar(expected[r], losses[r], relative: Tolerance, absolute: Absolute, what: $"{width} row {r} loss");
            }
        }
    }
}
