using Xent.Kernels;

namespace Xent.Tests.Core;

/// <summary>
/// Short rows' forward takes its own loop (<see cref="CrossEntropyKernel.OverrideShortRows"/>): the same statistics,
/// fold and finish as the general row loop, so bit for bit the same loss, per-row losses and log-sum-exp, at every
/// width and thread count, with every option a class-index forward takes, and ignored rows.
/// </summary>
public class ShortRowTests
{
    public static TheoryData<VectorWidth> Widths()
    {
        var data = new TheoryData<VectorWidth>();
        foreach (var width in Simd.Supported())
        {
            data.Add(width);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void ShortRowsForward_IsBitwiseTheGeneralLoop(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        foreach ((int rows, int v) in new[] { (1, 1), (7, 3), (300, 10), (257, 32), (40, 33), (9, 1024) })
        {
            var x = TestData.Logits(rows, v, rows + v, scale: 5f);
            if (v > 2)
            {
                x[1] = float.NegativeInfinity;
            }

            var y = TestData.Targets(rows, v, rows + v, ignoreEvery: 4);
            var weights = Enumerable.Range(0, v).Select(c => 0.5f + (c % 3)).ToArray();
            var options = new[]
            {
                new CrossEntropyOptions(), new CrossEntropyOptions { Reduction = Reduction.Sum },
                new CrossEntropyOptions { LabelSmoothing = 0.1f, ClassWeights = weights }, new CrossEntropyOptions { ZLoss = 1e-4f },
            };
            foreach (var o in options)
            {
                foreach (int threads in TestData.ThreadCounts)
                {
                    var ot = o with { MaxDegreeOfParallelism = threads };
                    string what = $"{rows} x {v} {width} {threads} threads";
                    var (loss, losses, lse) = Forward(x, y, ot, shortRows: true);
                    var (general, generalLosses, generalLse) = Forward(x, y, ot, shortRows: false);
                    Assert.True(BitConverter.SingleToInt32Bits(general) == BitConverter.SingleToInt32Bits(loss), what);
                    Assert.True(generalLosses.AsSpan().SequenceEqual(losses), $"{what}: per-row losses");
                    Assert.True(generalLse.AsSpan().SequenceEqual(lse), $"{what}: log-sum-exp");
                }
            }
        }
    }

    private static (float Loss, float[] Losses, float[] LogSumExp) Forward(float[] x, int[] y, CrossEntropyOptions o, bool shortRows)
    {
        using var path = CrossEntropyKernel.OverrideShortRows(shortRows);
        var losses = new float[y.Length];
        var lse = new float[y.Length];
        CrossEntropy.LossPerRow(x, y, losses, lse, o);
        return (CrossEntropy.Loss(x, y, o), losses, lse);
    }
}
