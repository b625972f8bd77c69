using System.Runtime.InteropServices;
using Xent.Kernels;
using Xent.Reference;

namespace Xent.Tests.Core;

/// <summary>bfloat16 logits: the float64 reference of the same (bfloat16-rounded) values, and the float path's own numbers.</summary>
public class BFloat16CrossEntropyTests
{

    private static BFloat16[] Round(float[] x) => [.. x.Select(value => (BFloat16)value)];

    private static float[] Widen(BFloat16[] x) => [.. x.Select(value => (float)value)];

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void MatchTheReferenceOfTheSameValues(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        var cases = new[] { (3, 37), (5, 5000), (1, 20000) }.SelectMany(size => new (int Rows, int V, CrossEntropyOptions O)[]
        {
            (size.Item1, size.Item2, new()),
            (size.Item1, size.Item2, new() { Reduction = Reduction.Sum, LabelSmoothing = 0.1f, ClassWeights = TestData.Weights(size.Item2, 3) }),
            (size.Item1, size.Item2, new() { LabelSmoothing = 0.1f, SoftCap = 10f, ZLoss = 1e-3f }),
        });
        foreach (var (rows, v, o) in cases)
        {
            var bf = Round(TestData.Logits(rows, v, v));
            var exact = Widen(bf); // the values the kernel sees, exactly
            var y = TestData.Targets(rows, v, v);
            foreach (int threads in TestData.ThreadCounts)
            {
                var ot = o with { MaxDegreeOfParallelism = threads };
                string what = $"{rows}x{v} {width} {threads} threads";
                Close.Scalar(CrossEntropyReference.Loss(exact, y, ot), CrossEntropy.Loss(bf, y, ot), what: what);
                var r = new float[rows];
                var lse = new float[rows];
                CrossEntropy.LossPerRow(bf, y, r, lse, ot);
                Close.Vector(CrossEntropyReference.RowLosses(exact, y, ot), r, what: what);
                Close.Vector(CrossEntropyReference.LogSumExp(exact, rows, ot.SoftCap), lse, what: what);

                // Float gradient: the float tolerance, nothing rounded to bfloat16.
                var expected = CrossEntropyReference.Gradient(exact, y, ot, upstream: 0.5);
                var g = new float[bf.Length];
                CrossEntropy.LossAndGradient(bf, y, g, upstream: 0.5f, options: ot);
                Close.Gradient(expected, g, v, what: what + " float gradient");

                // bfloat16 gradient: rounded once, so within half a bfloat16 ulp (2^-9 relative) of the float one.
                var gb = new BFloat16[bf.Length];
                CrossEntropy.LossAndGradient(bf, y, gb, ot);
                Close.Gradient(CrossEntropyReference.Gradient(exact, y, ot), Widen(gb), v, relative: 5e-3, floor: 1e-6, what: what + " bfloat16 gradient");
                var inPlace = (BFloat16[])bf.Clone();
                CrossEntropy.LossAndGradient(inPlace, y, inPlace, ot);
                Assert.Equal(gb.Select(b => b.Bits), inPlace.Select(b => b.Bits));
            }
        }
    }

    /// <summary>
    /// The kernel sees the widened floats, so every number equals the float path's bitwise, NaN and infinity included;
    /// a bfloat16 gradient is the float one rounded once (the target column is rounded from double directly).
    /// </summary>
    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void EqualTheFloatPathOnSpecialValues(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        const int v = 1001;
        var rows = new List<BFloat16[]>();
        var masked = Round(TestData.Logits(1, v, 5));
        for (int c = 0; c < v; c += 2)
        {
            masked[c] = BFloat16.NegativeInfinity;
        }

        rows.Add(masked);
        var withNaN = Round(TestData.Logits(1, v, 6));
        withNaN[v - 2] = BFloat16.NaN;
        rows.Add(withNaN);
        var withInf = Round(TestData.Logits(1, v, 7));
        withInf[17] = BFloat16.PositiveInfinity;
        rows.Add(withInf);
        rows.Add([.. Enumerable.Range(0, v).Select(c => BFloat16.FromBits((ushort)(c % 3 == 0 ? 0x8000 : c % 128)))]); // -0 and subnormals
        rows.Add(Round(TestData.Logits(1, v, 8, scale: 3000f))); // logits x 1000
        int[] y = [1, 3, 5, 7, 9];
        var bf = rows.SelectMany(r => r).ToArray();
        var exact = Widen(bf);
        foreach (var o in new CrossEntropyOptions[] { new() { Reduction = Reduction.Sum }, new() { LabelSmoothing = 0.2f, SoftCap = 30f } })
        {
            var r = new float[rows.Count];
            var rf = new float[rows.Count];
            CrossEntropy.LossPerRow(bf, y, r, o);
            CrossEntropy.LossPerRow(exact, y, rf, o);
            Assert.Equal(rf, r);
            Close.Vector(CrossEntropyReference.RowLosses(exact, y, o with { Reduction = Reduction.None }), r, what: "special rows");

            var g = new float[bf.Length];
            var gf = new float[bf.Length];
            Assert.Equal(CrossEntropy.LossAndGradient(exact, y, gf, o), CrossEntropy.LossAndGradient(bf, y, g, options: o));
            Assert.Equal(gf, g);

            var gb = new BFloat16[bf.Length];
            CrossEntropy.LossAndGradient(bf, y, gb, o);
            for (int i = 0; i < gb.Length; i++)
            {
                bool target = i % v == y[i / v];
                if (!target || float.IsNaN(gf[i]))
                {
                    Assert.Equal(((BFloat16)gf[i]).Bits, gb[i].Bits);
                }
                else
                {
                    Assert.True(Math.Abs(((BFloat16)gf[i]).Bits - gb[i].Bits) <= 1, $"target column of row {i / v}");
                }
            }
        }
    }

    /// <summary>
    /// The plain forward reads bfloat16 lanes in place and widens them in registers: every length around the vector
    /// and chunk sizes, one block and several (the last one short), masked rows and smoothing with weights, each
    /// bitwise the float path's on the widened values at every width and thread count.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void InPlaceWideningEqualsTheFloatPathBitwise(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        foreach (int v in new[] { 1, 3, 4, 7, 8, 15, 16, 17, 31, 33, 63, 64, 65, 127, 128, 129, 255, 257, 4095, 4096, 4097, 9001, 20000 })
        {
            const int rows = 5;
            var bf = Round(TestData.Logits(rows, v, v, scale: 10f));
            if (v > 2)
            {
                for (int c = 0; c < v; c += 3)
                {
                    bf[c] = BFloat16.NegativeInfinity; // row 0 partly masked
                }
            }

            var exact = Widen(bf);
            var y = TestData.Targets(rows, v, v, ignoreEvery: 4);
            foreach (var o in new CrossEntropyOptions[] { new(), new() { Reduction = Reduction.Sum, LabelSmoothing = 0.1f, ClassWeights = TestData.Weights(v, 2), ZLoss = 1e-4f } })
            {
                foreach (int threads in TestData.ThreadCounts)
                {
                    var ot = o with { MaxDegreeOfParallelism = threads };
                    string what = $"V = {v} {width} {threads} threads";
                    Assert.True(CrossEntropy.Loss(exact, y, ot) == CrossEntropy.Loss(bf, y, ot), what);
                    float[] r = new float[rows], rf = new float[rows], lse = new float[rows], lsef = new float[rows];
                    CrossEntropy.LossPerRow(bf, y, r, lse, ot);
                    CrossEntropy.LossPerRow(exact, y, rf, lsef, ot);
                    Assert.Equal(rf, r);
                    Assert.Equal(lsef, lse);
                    CrossEntropy.LogSumExp(bf, lse);
                    CrossEntropy.LogSumExp(exact, lsef);
                    Assert.Equal(lsef, lse);

                    // A bfloat16 gradient is the float path's float gradient rounded once (its target column from
                    // double directly), with the same loss: in place and not, plain (exponentials kept) and smoothed.
                    // The float path runs with the exponentials kept or recomputed as a 16-bit gradient has them (at 512
                    // bits on a CPU with split units they are kept there also under label smoothing, which a float
                    // gradient there recomputes).
                    var gf = new float[bf.Length];
                    float lossFloat;
                    using (CrossEntropyKernel.OverrideStoredExponentials(CrossEntropyKernel.StoresExponentials(width, v, capped: ot.SoftCap > 0f, sixteenBit: true, smoothed: ot.LabelSmoothing > 0f, half: false)))
                    {
                        lossFloat = CrossEntropy.LossAndGradient(exact, y, gf, ot);
                    }

                    var gb = new BFloat16[bf.Length];
                    Assert.True(lossFloat == CrossEntropy.LossAndGradient(bf, y, gb, ot), what);
                    var inPlace = (BFloat16[])bf.Clone();
                    Assert.True(lossFloat == CrossEntropy.LossAndGradient(inPlace, y, inPlace, ot), what);
                    Assert.Equal(gb.Select(b => b.Bits), inPlace.Select(b => b.Bits));
                    for (int i = 0; i < gb.Length; i++)
                    {
                        if (i % v != y[i / v])
                        {
                            Assert.True(((BFloat16)gf[i]).Bits == gb[i].Bits, $"{what}: element {i}");
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// A float gradient of bfloat16 logits whose forward takes the single pass with stored exponentials reads the
    /// bfloat16 lanes in place (StatisticsKernel.TryComputeStored): bitwise the float path's on the widened values,
    /// loss, log-sum-exp and gradient, with the exponentials stored into the gradient and with the streamed write that
    /// recomputes them, for blocks that take the single pass and blocks too short for it (a row's last block), rows
    /// that hand over to the two-pass loop (a logit far above the first chunk's), rows one logit leads, masked, NaN and
    /// +inf rows, at every width and thread count.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void FloatGradientOfStoredExponentialsEqualsTheFloatPathBitwise(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        foreach (int v in new[] { 63, 64, 129, 1000, 4097, CrossEntropyKernel.BlockColumns + 100, (2 * CrossEntropyKernel.BlockColumns) + 1000 })
        {
            const int rows = 6;
            var x = TestData.Logits(rows, v, v, scale: 4f);
            for (int c = 0; c < v; c++)
            {
                // Row 1 rises far above its first chunk (the single pass hands over); row 2 is led by one logit, half
                // of it masked; row 3 holds a NaN, row 4 a +inf.
                x[v + c] = c == v / 2 ? 150f : c == (v / 2) + 7 ? 90f : x[v + c];
                x[(2 * v) + c] = c % 2 == 0 ? float.NegativeInfinity : c == v - 3 ? 40f : x[(2 * v) + c];
            }

            x[(3 * v) + (v / 3)] = float.NaN;
            x[(4 * v) + (v / 5)] = float.PositiveInfinity;
            var bf = Round(x);
            var exact = Widen(bf);
            var y = TestData.Targets(rows, v, v, ignoreEvery: 5);
            foreach (bool store in new[] { true, false })
            {
                foreach (long streamedFrom in new[] { long.MaxValue, 0 })
                {
                    using var stored = CrossEntropyKernel.OverrideStoredExponentials(store);
                    using var streamed = CrossEntropyKernel.OverrideStreamedBytes(streamedFrom);
                    foreach (int threads in TestData.ThreadCounts)
                    {
                        var o = new CrossEntropyOptions { MaxDegreeOfParallelism = threads };
                        string what = $"V = {v} {width} stored {store} streamed {streamedFrom == 0} {threads} threads";
                        float[] g = new float[bf.Length], gf = new float[bf.Length], lse = new float[rows], lsef = new float[rows];
                        float loss = CrossEntropy.LossAndGradient(bf, y, g, 0.5f, lse, o);
                        float lossFloat = CrossEntropy.LossAndGradient(exact, y, gf, 0.5f, lsef, o);
                        Assert.True(BitConverter.SingleToInt32Bits(lossFloat) == BitConverter.SingleToInt32Bits(loss), what + ": loss");
                        Assert.True(lsef.AsSpan().SequenceEqual(lse), what + ": log-sum-exp");
                        Assert.True(MemoryMarshal.Cast<float, int>(gf.AsSpan()).SequenceEqual(MemoryMarshal.Cast<float, int>(g.AsSpan())), what + ": gradient");
                    }
                }
            }
        }
    }

    [Fact]
    public void BadInputThrowsBeforeWriting()
    {
        var bf = Round(TestData.Logits(2, 10, 1));
        var g = new float[20];
        Assert.Throws<ArgumentOutOfRangeException>(() => CrossEntropy.Loss(bf, [0, 10]));
        Assert.Throws<ArgumentException>(() => CrossEntropy.LossAndGradient(bf, [0, 1], new float[19]));
        Assert.Throws<ArgumentException>(() => CrossEntropy.LossAndGradient(bf, [0, 1], new BFloat16[19]));
        Assert.Throws<ArgumentException>(() => CrossEntropy.Loss(bf, [0, 1], new CrossEntropyOptions { Reduction = Reduction.None }));
        unsafe
        {
            // A float gradient over the bfloat16 logits' own memory cannot be in place: it is twice as long.
            var both = new float[20];
            fixed (float* p = both)
            {
                var logits = new ReadOnlySpan<BFloat16>(p, 20);
                var gradient = new Span<float>(p, 20);
                try
                {
                    CrossEntropy.LossAndGradient(logits, [0, 1], gradient);
                    Assert.Fail("overlap not detected");
                }
                catch (ArgumentException e)
                {
                    Assert.Equal("gradient", e.ParamName);
                }
            }
        }

        Assert.All(g, x => Assert.Equal(0f, x));
    }

    [Fact]
    public void BackwardAndLogSumExpMatchTheReference()
    {
        const int rows = 4, v = 9000;
        var bf = Round(TestData.Logits(rows, v, 3, scale: 30f));
        var exact = Widen(bf);
        var y = TestData.Targets(rows, v, 3, ignoreEvery: 3);
        double[] upstream = [0.5, -2, 1, 3];
        var g = new float[bf.Length];
        CrossEntropy.Gradient(bf, y, [.. upstream.Select(u => (float)u)], g);
        Close.Gradient(CrossEntropyReference.Gradient(exact, y, upstream), g, v);
        var lse = new float[rows];
        CrossEntropy.LogSumExp(bf, lse, softCap: 15f);
        Close.Vector(CrossEntropyReference.LogSumExp(exact, rows, 15f), lse);
    }
}
