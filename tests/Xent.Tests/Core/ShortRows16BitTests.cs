using System.Runtime.InteropServices;
using Xent.Kernels;

namespace Xent.Tests.Core;

/// <summary>
/// Short rows of bfloat16 and Half logits take the short-row loop too (<see cref="CrossEntropyKernel.OverrideShortRows"/>),
/// widened a block of rows at a time (under a soft cap, capped a block at a time too, each row at the width the row loop would cap it): bit for bit the row loop's loss, per-row losses, log-sum-exp and gradient (16-bit
/// in place and out of place, float out of place; exponentials stored or recomputed), at every width and thread count,
/// for row counts around the loop's block of rows and class counts around its widths and its longest row.
/// </summary>
public class ShortRows16BitTests
{
    private static readonly int[] RowCounts = [1, 31, 32, 33, 100];

    private static readonly int[] ClassCounts = [1, 2, 10, 32, 33, 128, 1024, 1025];

    private static readonly CrossEntropyOptions[] OptionSets =
    [
        new CrossEntropyOptions(), new CrossEntropyOptions { Reduction = Reduction.Sum, ZLoss = 1e-4f },
        new CrossEntropyOptions { LabelSmoothing = 0.1f }, new CrossEntropyOptions { SoftCap = 5f },
        new CrossEntropyOptions { SoftCap = 5f, LabelSmoothing = 0.1f },
    ];

    public static TheoryData<VectorWidth> Widths() => ShortRowTests.Widths();

    [Theory]
    [MemberData(nameof(Widths))]
    public void BFloat16_ShortRows_AreBitwiseTheRowLoop(VectorWidth width) => Compare(width, x => x.Select(v => (BFloat16)v).ToArray());

    [Theory]
    [MemberData(nameof(Widths))]
    public void Half_ShortRows_AreBitwiseTheRowLoop(VectorWidth width) => Compare(width, x => x.Select(v => (Half)v).ToArray());

    private static void Compare<T>(VectorWidth width, Func<float[], T[]> narrow)
        where T : unmanaged
    {
        using var scope = Simd.Override(width);
        foreach (int rows in RowCounts)
        {
            foreach (int v in ClassCounts)
            {
                var (logits, y, weights) = Case(rows, v);
                var x = narrow(logits);
                var upstream = Enumerable.Range(0, rows).Select(n => 0.25f + (n % 5)).ToArray();
                var lseGradient = Enumerable.Range(0, rows).Select(n => 0.01f * (n % 7)).ToArray();
                foreach (var o in OptionSets)
                {
                    foreach (int threads in TestData.ThreadCounts)
                    {
                        var ot = o with { MaxDegreeOfParallelism = threads, ClassWeights = o.LabelSmoothing > 0 ? weights : null };
                        string what = $"{typeof(T).Name} {rows} x {v} {width} {threads} threads, {TestData.Describe(ot)}";
                        Same(Forward(x, y, ot, shortRows: false), Forward(x, y, ot, shortRows: true), what);
                        foreach (bool store in new[] { false, true })
                        {
                            using var stored = CrossEntropyKernel.OverrideStoredExponentials(store);
                            foreach (bool inPlace in new[] { false, true })
                            {
                                string where = $"{what}, stored {store}, in place {inPlace}";
                                Same(Backward(x, y, ot, upstream, lseGradient, inPlace, shortRows: false), Backward(x, y, ot, upstream, lseGradient, inPlace, shortRows: true), where);
                            }

                            if (x is BFloat16[] b)
                            {
                                Same(FloatGradient(b, y, ot, upstream, lseGradient, shortRows: false), FloatGradient(b, y, ot, upstream, lseGradient, shortRows: true), $"{what}, stored {store}, float gradient");
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>Every output of both runs, as bits, named in the failure.</summary>
    private static void Same(IReadOnlyList<(string Name, byte[] Bits)> expected, IReadOnlyList<(string Name, byte[] Bits)> actual, string what)
    {
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.True(expected[i].Bits.AsSpan().SequenceEqual(actual[i].Bits), $"{what}: {expected[i].Name}");
        }
    }

    private static byte[] Bits<TE>(params TE[] values)
        where TE : unmanaged => MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    /// <summary>
    /// Logits scaled by 5 with a -inf (beyond 2 classes), every fourth target ignored, class weights; at 33 rows (beyond
    /// 2 classes) also rows of only -inf (2, kept, and 3, ignored) and rows with a NaN (5, kept, and 7, ignored).
    /// </summary>
    private static (float[] X, int[] Y, float[] Weights) Case(int rows, int v)
    {
        var x = TestData.Logits(rows, v, rows + v, scale: 5f);
        if (v > 2)
        {
            x[1] = float.NegativeInfinity;
        }

        if (rows == 33 && v > 2)
        {
            x.AsSpan(2 * v, 2 * v).Fill(float.NegativeInfinity);
            x[(5 * v) + (v / 2)] = float.NaN;
            x[(7 * v) + (v / 2)] = float.NaN;
        }

        var y = TestData.Targets(rows, v, rows + v, ignoreEvery: 4);
        return (x, y, [.. Enumerable.Range(0, v).Select(c => 0.5f + (c % 3))]);
    }

    private static List<(string, byte[])> Forward<T>(T[] x, int[] y, CrossEntropyOptions o, bool shortRows)
    {
        using var path = CrossEntropyKernel.OverrideShortRows(shortRows);
        var losses = new float[y.Length];
        var lse = new float[y.Length];
        float loss;
        if (x is BFloat16[] b)
        {
            CrossEntropy.LossPerRow(b, y, losses, lse, o);
            loss = CrossEntropy.Loss(b, y, o);
        }
        else
        {
            var h = x as Half[] ?? throw new ArgumentException("bfloat16 or Half", nameof(x));
            CrossEntropy.LossPerRow(h, y, losses, lse, o);
            loss = CrossEntropy.Loss(h, y, o);
        }

        return [("loss", Bits(loss)), ("per-row losses", Bits(losses)), ("log-sum-exp", Bits(lse))];
    }

    /// <summary>LossAndGradient and Gradient (per-row upstream) into a gradient of the logits' own type.</summary>
    private static List<(string, byte[])> Backward<T>(T[] x, int[] y, CrossEntropyOptions o, float[] upstream, float[] lseGradient, bool inPlace, bool shortRows)
        where T : unmanaged
    {
        using var path = CrossEntropyKernel.OverrideShortRows(shortRows);
        var lse = new float[y.Length];
        var gradient = inPlace ? (T[])x.Clone() : new T[x.Length];
        var rowGradient = inPlace ? (T[])x.Clone() : new T[x.Length];
        var perRow = o with { Reduction = Reduction.None };
        float loss;
        if (x is BFloat16[] b)
        {
            var g = (BFloat16[])(object)gradient;
            var rg = (BFloat16[])(object)rowGradient;
            loss = CrossEntropy.LossAndGradient(inPlace ? g : b, y, g, 0.5f, lse, o, lseGradient);
            CrossEntropy.Gradient(inPlace ? rg : b, y, upstream, rg, perRow);
        }
        else
        {
            var h = x as Half[] ?? throw new ArgumentException("bfloat16 or Half", nameof(x));
            var g = (Half[])(object)gradient;
            var rg = (Half[])(object)rowGradient;
            loss = CrossEntropy.LossAndGradient(inPlace ? g : h, y, g, 0.5f, lse, o, lseGradient);
            CrossEntropy.Gradient(inPlace ? rg : h, y, upstream, rg, perRow);
        }

        return [("loss", Bits(loss)), ("log-sum-exp", Bits(lse)), ("gradient", Bits(gradient)), ("per-row upstream gradient", Bits(rowGradient))];
    }

    /// <summary>A float gradient of bfloat16 logits (out of place: the types differ).</summary>
    private static List<(string, byte[])> FloatGradient(BFloat16[] x, int[] y, CrossEntropyOptions o, float[] upstream, float[] lseGradient, bool shortRows)
    {
        using var path = CrossEntropyKernel.OverrideShortRows(shortRows);
        var lse = new float[y.Length];
        var gradient = new float[x.Length];
        var rowGradient = new float[x.Length];
        float loss = CrossEntropy.LossAndGradient(x, y, gradient, 0.5f, lse, o, lseGradient);
        CrossEntropy.Gradient(x, y, upstream, rowGradient, o with { Reduction = Reduction.None });
        return [("loss", Bits(loss)), ("log-sum-exp", Bits(lse)), ("gradient", Bits(gradient)), ("per-row upstream gradient", Bits(rowGradient))];
    }
}
