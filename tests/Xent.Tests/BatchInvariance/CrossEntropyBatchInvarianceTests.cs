using Xent.Tests.Core;

namespace Xent.Tests.BatchInvariance;

/// <summary>
/// <see cref="CrossEntropy"/>'s promise: a row's loss, log-sum-exp and (with Sum) gradient are bitwise the same alone
/// or in any batch, at any position and thread count, for float, Half and bfloat16 logits.
/// </summary>
public class CrossEntropyBatchInvarianceTests
{
    /// <summary>A call under test: logits [N, V], targets [N] -&gt; per-row outputs, each [N] or [N, V], as floats.</summary>
    private delegate float[][] Call<T>(T[] logits, int[] targets, CrossEntropyOptions options);

    private static readonly CrossEntropyOptions[] Options =
    [
        new() { Reduction = Reduction.Sum },
        new() { Reduction = Reduction.Sum, LabelSmoothing = 0.1f, ZLoss = 1e-3f, SoftCap = 20f },
    ];

    private static float[][] Single(float[] x, int[] y, CrossEntropyOptions o)
    {
        var r = new float[y.Length];
        var lse = new float[y.Length];
        var g = new float[x.Length];
        CrossEntropy.LossPerRow(x, y, r, lse, o);
        CrossEntropy.LossAndGradient(x, y, g, o);
        return [r, lse, g];
    }

    private static float[][] Half16(Half[] x, int[] y, CrossEntropyOptions o)
    {
        var r = new float[y.Length];
        var g = new Half[x.Length];
        CrossEntropy.LossPerRow(x, y, r, o);
        CrossEntropy.LossAndGradient(x, y, g, o);
        return [r, [.. g.Select(h => (float)h)]];
    }

    private static float[][] BFloat(BFloat16[] x, int[] y, CrossEntropyOptions o)
    {
        var r = new float[y.Length];
        var lse = new float[y.Length];
        var g = new float[x.Length];
        var gb = new BFloat16[x.Length];
        CrossEntropy.LossPerRow(x, y, r, lse, o);
        CrossEntropy.LossAndGradient(x, y, g, options: o);
        CrossEntropy.LossAndGradient(x, y, gb, o);
        return [r, lse, g, [.. gb.Select(b => (float)b)]];
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void FloatRows(VectorWidth width) => Check<float>(width, Single, BatchTrials.Uniform);

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void HalfRows(VectorWidth width) => Check(width, Half16, random => (Half)BatchTrials.Uniform(random));

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void BFloat16Rows(VectorWidth width) => Check(width, BFloat, random => (BFloat16)BatchTrials.Uniform(random));

    /// <summary>
    /// Random batches of rows of V = 37 (a remainder vector in every row) up to 8192 rows; and rows of V = 9000
    /// (three blocks) up to 48 rows, where few rows make the kernel split each row's blocks across threads.
    /// </summary>
    private static void Check<T>(VectorWidth width, Call<T> call, Func<Random, T> next)
    {
        using var scope = Simd.Override(width);
        foreach (var (v, maxBatch, trials) in new[] { (37, BatchTrials.MaxBatch, 10), (9000, 48, 4) })
        {
            var probeRandom = new Random(v);
            var probe = Enumerable.Range(0, v).Select(_ => next(probeRandom)).ToArray();
            int probeTarget = v / 3;
            foreach (var options in Options)
            {
                var alone = call(probe, [probeTarget], options with { MaxDegreeOfParallelism = 1 });
                int seed = 0;
                foreach (var (batch, position, threads) in BatchTrials.Draw(v + (int)width, trials, maxBatch))
                {
                    seed++;
                    var x = BatchTrials.Embed<T>(probe, batch, position, seed, next);
                    var y = BatchTrials.Targets(probeTarget, batch, position, v, seed);
                    var outputs = call(x, y, options with { MaxDegreeOfParallelism = threads });
                    for (int k = 0; k < outputs.Length; k++)
                    {
                        int length = alone[k].Length; // 1 for per-row outputs, V for a gradient row
                        BatchTrials.SameBits(alone[k], outputs[k].AsSpan(position * length, length),
                            $"{typeof(T).Name} V {v} output {k}, row {position} of {batch}, {threads} threads, {width}, smoothing {options.LabelSmoothing}");
                    }
                }
            }
        }
    }
}
