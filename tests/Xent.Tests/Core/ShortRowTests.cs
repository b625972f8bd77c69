using Xent.Kernels;

namespace Xent.Tests.Core;

/// <summary>
/// Short rows take their own loop (<see cref="CrossEntropyKernel.OverrideShortRows"/>): the same statistics, fold,
/// finish and gradient write as the general row loop, so bit for bit the same loss, per-row losses, log-sum-exp and
/// gradient (in place and out of place, exponentials stored or recomputed), at every width and thread count, with
/// every option a class-index call takes (a soft cap too, alone and with label smoothing), and ignored rows. Rows of one
/// to eight vectors (8 to 127 classes at 512 bits: 8 and 16 are one vector at 256 and 512 bits; up to two written out,
/// more in loops) take their statistics two rows at a time (<see cref="StatisticsKernel.Pair"/>), an odd last row and a
/// pair with an ignored row one at a time.
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

    // Specials: rows of only -inf and rows with a NaN, in shapes of their own (their NaN loss would hide the others').
    private static readonly (int Rows, int Classes, bool Specials)[] Shapes =
        [(1, 1, false), (7, 3, false), (300, 10, false), (257, 32, false), (40, 33, false), (9, 1024, false), (24, 32, true), (12, 1024, true),
         (11, 8, false), (33, 12, false), (17, 16, false), (20, 20, true), (9, 10, true),
         (21, 48, false), (14, 64, true), (11, 127, false), (13, 100, true)];

    [Theory]
    [MemberData(nameof(Widths))]
    public void ShortRowsForward_IsBitwiseTheGeneralLoop(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        foreach ((int rows, int v, bool specials) in Shapes)
        {
            var (x, y, weights) = Case(rows, v, specials);
            var options = new[]
            {
                new CrossEntropyOptions(), new CrossEntropyOptions { Reduction = Reduction.Sum },
                new CrossEntropyOptions { LabelSmoothing = 0.1f, ClassWeights = weights }, new CrossEntropyOptions { ZLoss = 1e-4f },
                new CrossEntropyOptions { SoftCap = 5f }, new CrossEntropyOptions { SoftCap = 5f, LabelSmoothing = 0.1f, ClassWeights = weights },
            };
            foreach (var o in options)
            {
                foreach (int threads in TestData.ThreadCounts)
                {
                    var ot = o with { MaxDegreeOfParallelism = threads };
                    string what = $"{rows} x {v} {width} {threads} threads, {TestData.Describe(ot)}";
                    var (loss, losses, lse) = Forward(x, y, ot, shortRows: true);
                    var (general, generalLosses, generalLse) = Forward(x, y, ot, shortRows: false);
                    Assert.True(BitConverter.SingleToInt32Bits(general) == BitConverter.SingleToInt32Bits(loss), what);
                    Assert.True(generalLosses.AsSpan().SequenceEqual(losses), $"{what}: per-row losses");
                    Assert.True(generalLse.AsSpan().SequenceEqual(lse), $"{what}: log-sum-exp");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void ShortRowsGradient_IsBitwiseTheGeneralLoop(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        foreach ((int rows, int v, bool specials) in Shapes)
        {
            var (x, y, weights) = Case(rows, v, specials);
            var upstream = Enumerable.Range(0, rows).Select(n => 0.25f + (n % 5)).ToArray();
            var lseGradient = Enumerable.Range(0, rows).Select(n => 0.01f * (n % 7)).ToArray();
            var options = new[]
            {
                new CrossEntropyOptions(), new CrossEntropyOptions { Reduction = Reduction.Sum, ClassWeights = weights },
                new CrossEntropyOptions { LabelSmoothing = 0.1f, ClassWeights = weights }, new CrossEntropyOptions { ZLoss = 1e-4f },
                new CrossEntropyOptions { SoftCap = 5f }, new CrossEntropyOptions { SoftCap = 5f, LabelSmoothing = 0.1f, ClassWeights = weights },
            };
            foreach (var o in options)
            {
                foreach (int threads in TestData.ThreadCounts)
                {
                    foreach (bool store in new[] { false, true })
                    {
                        using var stored = CrossEntropyKernel.OverrideStoredExponentials(store);
                        var ot = o with { MaxDegreeOfParallelism = threads };
                        foreach (bool inPlace in new[] { false, true })
                        {
                            string what = $"{rows} x {v} {width} {threads} threads, {TestData.Describe(ot)}, stored {store}, in place {inPlace}";
                            var fast = Backward(x, y, ot, upstream, lseGradient, inPlace, shortRows: true);
                            var general = Backward(x, y, ot, upstream, lseGradient, inPlace, shortRows: false);
                            Assert.True(BitConverter.SingleToInt32Bits(general.Loss) == BitConverter.SingleToInt32Bits(fast.Loss), what);
                            Assert.True(general.LogSumExp.AsSpan().SequenceEqual(fast.LogSumExp), $"{what}: log-sum-exp");
                            Assert.True(general.Gradient.AsSpan().SequenceEqual(fast.Gradient), $"{what}: gradient");
                            Assert.True(general.RowGradient.AsSpan().SequenceEqual(fast.RowGradient), $"{what}: per-row upstream gradient");
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// Logits scaled by 5 with a -inf (beyond 2 classes), targets with every fourth ignored, class weights; with
    /// <paramref name="specials"/> (at least 8 rows), rows of only -inf (2, kept, and 3, ignored) and rows with a NaN
    /// (5, kept, and 7, ignored).
    /// </summary>
    private static (float[] X, int[] Y, float[] Weights) Case(int rows, int v, bool specials)
    {
        var x = TestData.Logits(rows, v, rows + v, scale: 5f);
        if (v > 2)
        {
            x[1] = float.NegativeInfinity;
        }

        if (specials)
        {
            x.AsSpan(2 * v, 2 * v).Fill(float.NegativeInfinity);
            x[(5 * v) + (v / 2)] = float.NaN;
            x[(7 * v) + (v / 2)] = float.NaN;
        }

        var y = TestData.Targets(rows, v, rows + v, ignoreEvery: 4);
        return (x, y, [.. Enumerable.Range(0, v).Select(c => 0.5f + (c % 3))]);
    }

    private static (float Loss, float[] LogSumExp, float[] Gradient, float[] RowGradient) Backward(float[] x, int[] y, CrossEntropyOptions o,
        float[] upstream, float[] lseGradient, bool inPlace, bool shortRows)
    {
        using var path = CrossEntropyKernel.OverrideShortRows(shortRows);
        var lse = new float[y.Length];
        var gradient = inPlace ? (float[])x.Clone() : new float[x.Length];
        float loss = CrossEntropy.LossAndGradient(inPlace ? gradient : x, y, gradient, 0.5f, lse, o, lseGradient);
        var rowGradient = inPlace ? (float[])x.Clone() : new float[x.Length];
        CrossEntropy.Gradient(inPlace ? rowGradient : x, y, upstream, rowGradient, o with { Reduction = Reduction.None });
        return (loss, lse, gradient, rowGradient);
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
