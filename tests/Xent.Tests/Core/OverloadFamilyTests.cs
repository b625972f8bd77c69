using Xent.Reference;

namespace Xent.Tests.Core;

/// <summary>
/// Every overload family of CrossEntropy (float spans, Half, bfloat16, pointers) offers the same options and outputs:
/// the loss in parts, per-row lse, the upstream scale and the caller's dL/dlse, the per-row backward and lse alone,
/// each against the float64 reference of the values the kernel sees (16-bit inputs widened exactly), at every width
/// and thread count. Pointers are the span kernel and must equal it bitwise.
/// </summary>
public class OverloadFamilyTests
{
    private const int Rows = 9;
    private const int V = 5003;

    private static CrossEntropyOptions Mean(int threads) => new() { ZLoss = 1e-3f, LabelSmoothing = 0.05f, MaxDegreeOfParallelism = threads };

    private static CrossEntropyOptions None(int threads) => new() { Reduction = Reduction.None, ZLoss = 1e-3f, SoftCap = 8f, MaxDegreeOfParallelism = threads };

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void HalfOverloads_MatchTheFloat64Reference(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        var half = TestData.Logits(Rows, V, 21).Select(x => (Half)x).ToArray();
        var exact = half.Select(x => (float)x).ToArray();
        Check(exact, (y, o) => CrossEntropy.LossWithParts(half, y, o), (y, r, lse, o) => CrossEntropy.LossPerRow(half, y, r, lse, o),
            lse => CrossEntropy.LogSumExp(half, lse, 8f),
            (y, up, lse, o, gLse) =>
            {
                var g = new Half[half.Length];
                float loss = CrossEntropy.LossAndGradient(half, y, g, up, lse, o, gLse);
                return (loss, g.Select(x => (float)x).ToArray());
            },
            (y, up, o, gLse) =>
            {
                var g = new Half[half.Length];
                CrossEntropy.Gradient(half, y, up, g, o, gLse);
                return g.Select(x => (float)x).ToArray();
            },
            relative: 2e-3);
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void BFloat16Overloads_MatchTheFloat64Reference(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        var bf = TestData.Logits(Rows, V, 22).Select(x => (BFloat16)x).ToArray();
        var exact = bf.Select(x => (float)x).ToArray();
        (float, float[]) FloatGradient(int[] y, float up, float[] lse, CrossEntropyOptions o, float[] gLse)
        {
            var g = new float[bf.Length];
            return (CrossEntropy.LossAndGradient(bf, y, g, up, lse, o, gLse), g);
        }

        (float, float[]) BFloat16Gradient(int[] y, float up, float[] lse, CrossEntropyOptions o, float[] gLse)
        {
            var g = new BFloat16[bf.Length];
            float loss = CrossEntropy.LossAndGradient(bf, y, g, up, lse, o, gLse);
            return (loss, g.Select(x => (float)x).ToArray());
        }

        float[] RowsFloat(int[] y, float[] up, CrossEntropyOptions o, float[] gLse)
        {
            var g = new float[bf.Length];
            CrossEntropy.Gradient(bf, y, up, g, o, gLse);
            return g;
        }

        float[] RowsBFloat16(int[] y, float[] up, CrossEntropyOptions o, float[] gLse)
        {
            var g = new BFloat16[bf.Length];
            CrossEntropy.Gradient(bf, y, up, g, o, gLse);
            return g.Select(x => (float)x).ToArray();
        }

        LossParts Parts(int[] y, CrossEntropyOptions o) => CrossEntropy.LossWithParts(bf, y, o);
        void PerRow(int[] y, float[] r, float[] lse, CrossEntropyOptions o) => CrossEntropy.LossPerRow(bf, y, r, lse, o);
        void Lse(float[] lse) => CrossEntropy.LogSumExp(bf, lse, 8f);
        Check(exact, Parts, PerRow, Lse, FloatGradient, RowsFloat, relative: 1e-5);
        Check(exact, Parts, PerRow, Lse, BFloat16Gradient, RowsBFloat16, relative: 1e-2);
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public unsafe void PointerOverloads_EqualTheSpanOverloadsBitwise_AndTheReference(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        var logits = TestData.Logits(Rows, V, 23);
        fixed (float* x = logits)
        {
            float* p = x;
            long length = logits.Length;
            Check(logits, (y, o) => CrossEntropy.LossWithParts(p, length, y, o), (y, r, lse, o) => CrossEntropy.LossPerRow(p, length, y, r, lse, o),
                lse => CrossEntropy.LogSumExp(p, length, lse, 8f),
                (y, up, lse, o, gLse) =>
                {
                    var g = new float[length];
                    float loss;
                    fixed (float* pg = g)
                    {
                        loss = CrossEntropy.LossAndGradient(p, length, y, pg, length, up, lse, o, gLse);
                    }

                    var spanLse = new float[Rows];
                    var span = new float[length];
                    Assert.Equal(CrossEntropy.LossAndGradient(logits, y, span, up, spanLse, o, gLse), loss);
                    Assert.Equal(span, g);
                    Assert.Equal(spanLse, lse);
                    return (loss, g);
                },
                (y, up, o, gLse) =>
                {
                    var g = new float[length];
                    fixed (float* pg = g)
                    {
                        CrossEntropy.Gradient(p, length, y, up, pg, length, o, gLse);
                    }

                    var span = new float[length];
                    CrossEntropy.Gradient(logits, y, up, span, o, gLse);
                    Assert.Equal(span, g);
                    return g;
                },
                relative: 1e-5);
            var parts = CrossEntropy.LossWithParts(p, length, TestData.Targets(Rows, V, 1), Mean(2));
            Assert.Equal(CrossEntropy.LossWithParts(logits, TestData.Targets(Rows, V, 1), Mean(2)), parts);
        }
    }

    /// <summary>
    /// One family's entry points against the reference on <paramref name="exact"/> (the values the kernel sees).
    /// <paramref name="relative"/> is the gradient's tolerance (a 16-bit gradient is rounded once).
    /// </summary>
    private static void Check(float[] exact, Func<int[], CrossEntropyOptions, LossParts> parts, Action<int[], float[], float[], CrossEntropyOptions> perRow,
        Action<float[]> logSumExp, Func<int[], float, float[], CrossEntropyOptions, float[], (float, float[])> lossAndGradient,
        Func<int[], float[], CrossEntropyOptions, float[], float[]> gradient, double relative)
    {
        var y = TestData.Targets(Rows, V, 5, ignoreEvery: 4);
        var rng = new Random(6);
        var gLse = Enumerable.Range(0, Rows).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var up = Enumerable.Range(0, Rows).Select(_ => (float)(rng.NextDouble() * 2)).ToArray();
        foreach (int threads in TestData.ThreadCounts)
        {
            string what = $"{threads} threads";
            var mean = Mean(threads);
            var lp = parts(y, mean);
            Close.Scalar(CrossEntropyReference.Loss(exact, y, mean), lp.Total, what: what + " total");
            Close.Scalar(CrossEntropyReference.Loss(exact, y, mean with { ZLoss = 0 }), lp.CrossEntropy, what: what + " cross-entropy part");
            Close.Scalar(lp.Total - lp.CrossEntropy, lp.ZLoss, relative: 1e-4, absolute: 1e-6, what: what + " z-loss part");

            var none = None(threads);
            float[] r = new float[Rows], lse = new float[Rows];
            perRow(y, r, lse, none);
            Close.Vector(CrossEntropyReference.RowLosses(exact, y, none), r, what: what + " rows");
            Close.Vector(CrossEntropyReference.LogSumExp(exact, Rows, none.SoftCap), lse, what: what + " lse");
            var lseOnly = new float[Rows];
            logSumExp(lseOnly);
            Assert.Equal(lse, lseOnly);

            var lseOut = new float[Rows];
            var (loss, g) = lossAndGradient(y, 0.5f, lseOut, mean, gLse);
            Close.Scalar(CrossEntropyReference.Loss(exact, y, mean), loss, what: what);
            Close.Vector(CrossEntropyReference.LogSumExp(exact, Rows), lseOut, what: what + " lse of the gradient call");
            var expected = LseGradientAndPartsTests.Add(CrossEntropyReference.Gradient(exact, y, mean, 0.5), LseGradientAndPartsTests.LseTerm(exact, y, gLse, Rows, V, mean));
            Close.Gradient(expected, g, V, relative: relative, what: what + " reduced gradient");

            var gr = gradient(y, up, none, gLse);
            var expectedRows = LseGradientAndPartsTests.Add(CrossEntropyReference.Gradient(exact, y, up.Select(u => (double)u).ToArray(), none),
                LseGradientAndPartsTests.LseTerm(exact, y, gLse, Rows, V, none));
            Close.Gradient(expectedRows, gr, V, relative: relative, what: what + " per-row gradient");
        }
    }
}
