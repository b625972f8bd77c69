using Xent.Kernels;
using Xent.Reference;

namespace Xent.Tests.Core;

/// <summary>
/// The gradient's exponentials stored by the forward and scaled, or recomputed in the write pass (the default picks by
/// width, and for a 16-bit gradient at 512 bits by the CPU's units: <see cref="CrossEntropyKernel.OverrideStoredExponentials"/>
/// forces either at every width), plain, under a soft cap (stored: each exponential times the cap's derivative) and with
/// label smoothing (scaled, less C1 w): each matches the reference, in place is bitwise out of place, and a bfloat16 or
/// Half gradient is the float one rounded once (in place and out of place), for every width and thread count, one block
/// and several, whole and split rows, and rows too long to keep their exponentials in scratch.
/// </summary>
public class ExponentialPolicyTests
{
    public static TheoryData<VectorWidth, bool> Cases()
    {
        var data = new TheoryData<VectorWidth, bool>();
        foreach (var width in Simd.Supported())
        {
            data.Add(width, true);
            data.Add(width, false);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void BothPoliciesMatchTheReferenceAndStayConsistent(VectorWidth width, bool store)
    {
        using var scope = Simd.Override(width);
        using var policy = CrossEntropyKernel.OverrideStoredExponentials(store);
        foreach ((int rows, int v) in new[] { (5, 37), (3, 4097), (1, 20000), (2, (1 << 18) + 3) })
        {
            var bf = TestData.Logits(rows, v, v, scale: 10f).Select(x => (BFloat16)x).ToArray();
            var x = bf.Select(b => (float)b).ToArray();
            var y = TestData.Targets(rows, v, v, ignoreEvery: 4);
            var options = new[]
            {
                new CrossEntropyOptions { ZLoss = 1e-4f },
                new CrossEntropyOptions { ZLoss = 1e-4f, SoftCap = 15f },
                new CrossEntropyOptions { LabelSmoothing = 0.1f },
                new CrossEntropyOptions { LabelSmoothing = 0.2f, ClassWeights = TestData.Weights(v, 5), Reduction = Reduction.Sum },
            };
            foreach (var o in options)
            {
                Check(x, bf, y, o, $"{rows} x {v} {width} store {store} cap {o.SoftCap} smoothing {o.LabelSmoothing}");
            }
        }
    }

    /// <summary>
    /// Rows shorter than one vector of the call's width run in narrower lanes (<see cref="Widths.Fit"/>), and the
    /// exponentials are stored or recomputed as at the width the rows run at: at 512 bits, rows of fewer than 16 classes
    /// store them as a call at 256 bits does, on any CPU (float, bfloat16 and Half gradients, plain and smoothed), and
    /// rows of 16 classes or more keep the 512-bit choice, but for a 16-bit gradient without smoothing, which stores them
    /// (bfloat16 at every length, Half in rows of fewer than 128 classes: 8 vectors).
    /// </summary>
    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void RowsNarrowerThanTheCallsWidth_ChooseByTheirLanes(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        foreach (int v in new[] { 2, 5, 10, 15, 16, 33, 127, 128, 1500 })
        {
            var x = TestData.Logits(40, v, v, scale: 6f);
            var bf = x.Select(b => (BFloat16)b).ToArray();
            var half = x.Select(b => (Half)b).ToArray();
            var y = TestData.Targets(40, v, v, ignoreEvery: 5);
            foreach (var o in new[] { new CrossEntropyOptions(), new CrossEntropyOptions { LabelSmoothing = 0.1f } })
            {
                string what = $"{v} classes {width} smoothing {o.LabelSmoothing}";
                bool smoothed = o.LabelSmoothing > 0f;
                var lanes = Widths.Fit(width, v);
                // At 512 bits a 16-bit gradient without smoothing stores them: bfloat16 at every length, Half under 128 classes.
                bool stored512BFloat16 = !smoothed && lanes == VectorWidth.V512, stored512Half = stored512BFloat16 && v < 128;
                var g = new float[x.Length];
                var gb = new BFloat16[x.Length];
                var gh = new Half[x.Length];
                CrossEntropy.LossAndGradient(x, y, g, o);
                CrossEntropy.LossAndGradient(bf, y, gb, o);
                CrossEntropy.LossAndGradient(half, y, gh, o);
                var expected = new float[x.Length];
                var expectedB = new BFloat16[x.Length];
                var expectedH = new Half[x.Length];
                using (CrossEntropyKernel.OverrideStoredExponentials(CrossEntropyKernel.StoresExponentials(lanes, capped: false, sixteenBit: false, smoothed)))
                {
                    CrossEntropy.LossAndGradient(x, y, expected, o);
                }

                using (CrossEntropyKernel.OverrideStoredExponentials(CrossEntropyKernel.StoresExponentials(lanes, capped: false, sixteenBit: true, smoothed) || stored512BFloat16))
                {
                    CrossEntropy.LossAndGradient(bf, y, expectedB, o);
                }

                using (CrossEntropyKernel.OverrideStoredExponentials(CrossEntropyKernel.StoresExponentials(lanes, capped: false, sixteenBit: true, smoothed) || stored512Half))
                {
                    CrossEntropy.LossAndGradient(half, y, expectedH, o);
                }

                Assert.True(expected.AsSpan().SequenceEqual(g), $"{what}: float");
                Assert.Equal(expectedB.Select(b => b.Bits), gb.Select(b => b.Bits));
                Assert.Equal(expectedH.Select(BitConverter.HalfToUInt16Bits), gh.Select(BitConverter.HalfToUInt16Bits));
            }
        }
    }

    /// <summary>
    /// The stored exponentials' single pass (one shift for the whole block: the first chunk's max) hands the logits not
    /// yet stored to the two-pass loop where a later chunk rises far above that shift: a ramp over the row, a spike in
    /// the middle and in the last element (the shifted-back last vector), a first chunk of -inf (in rows of more than
    /// one block, the whole first block and more: a masked vocabulary), logits times 1000 (a rise in many blocks), and
    /// logits beyond 2^21 in the first chunk (handed over before any store). In place, the exponentials stored before
    /// the rise are all that is left of those logits.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void SinglePassStoreHandsRisesToTheTwoPassLoop(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        using var policy = CrossEntropyKernel.OverrideStoredExponentials(true);
        foreach (int v in new[] { 37, 1000, 20000, 40003 })
        {
            var random = TestData.Logits(6, v, v + 1);
            var x = new float[6 * v];
            for (int c = 0; c < v; c++)
            {
                x[c] = (c * (120f / v)) - 60f;
                x[v + c] = random[v + c];
                x[(2 * v) + c] = random[(2 * v) + c];
                x[(3 * v) + c] = c < Math.Min(v - 5, v > CrossEntropyKernel.BlockColumns ? CrossEntropyKernel.BlockColumns + 300 : 300) ? float.NegativeInfinity : random[(3 * v) + c];
                x[(4 * v) + c] = random[(4 * v) + c] * 1000f;
                x[(5 * v) + c] = random[(5 * v) + c] - (c < 200 ? 0f : 90f);
            }

            x[(2 * v) - 1] = 70f;
            x[(2 * v) + (v / 2)] = 60f;
            var bf = x.Select(value => (BFloat16)value).ToArray();
            x = bf.Select(b => (float)b).ToArray();
            int[] y = [v / 3, v - 2, (v / 2) + 1, v - 1, v / 5, 7];
            Check(x, bf, y, new CrossEntropyOptions(), $"rises, {v} {width}");
            Check(x, bf, y, new CrossEntropyOptions { ZLoss = 1e-4f, Reduction = Reduction.Sum }, $"rises, z-loss, {v} {width}");

            // Label smoothing's sum w z and the soft cap's derivative go with the hand-over too (a cap of 4000 bends even
            // the logits times 1000, and leaves every rise far beyond the single pass's headroom).
            // The masked vocabulary at -100, not -inf, under smoothing: its loss would be +inf, which checks no sum.
            var weights = TestData.Logits(1, v, v + 3, 0.5f).Select(value => 1.5f + value).ToArray();
            var finite = x.Select(value => float.IsNegativeInfinity(value) ? -100f : value).ToArray();
            var finiteBf = finite.Select(value => (BFloat16)value).ToArray();
            Check(finite, finiteBf, y, new CrossEntropyOptions { LabelSmoothing = 0.1f, Reduction = Reduction.Sum }, $"rises, smoothing, {v} {width}");
            Check(finite, finiteBf, y, new CrossEntropyOptions { LabelSmoothing = 0.1f, ClassWeights = weights }, $"rises, smoothing, weights, {v} {width}");
            Check(x, bf, y, new CrossEntropyOptions { SoftCap = 4000f, Reduction = Reduction.Sum }, $"rises, soft cap, {v} {width}");

            // Beyond 2^21 from the first chunk on (not representable in Half: float only).
            var huge = TestData.Logits(2, v, v + 2).Select(value => 3e6f + (value * 10f)).ToArray();
            int[] t = [1, v - 1];
            var expected = CrossEntropyReference.Gradient(huge, t);
            var g = new float[huge.Length];
            float loss = CrossEntropy.LossAndGradient(huge, t, g);
            Close.Gradient(expected, g, v, what: $"3e6, {v} {width}");
            var inPlace = (float[])huge.Clone();
            Assert.True(loss == CrossEntropy.LossAndGradient(inPlace, t, inPlace), $"3e6, {v} {width}");
            Assert.True(g.AsSpan().SequenceEqual(inPlace), $"3e6, {v} {width}: in place differs");
            AssertStreamedSame(huge, t, g, loss, new CrossEntropyOptions(), $"3e6, {v} {width}");
        }
    }

    /// <summary>A NaN or +inf anywhere in a block (the first chunk, a later one, the last element): NaN loss and row, in place as out of place.</summary>
    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void SinglePassStorePropagatesNaNAndInfinity(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        using var policy = CrossEntropyKernel.OverrideStoredExponentials(true);
        foreach (int v in new[] { 37, 1000, 20000 })
        {
            foreach (float bad in new[] { float.NaN, float.PositiveInfinity })
            {
                // Label smoothing's storing pass too (its sum of z in the loop; with class weights, in a pass ahead).
                var weights = TestData.Logits(1, v, v + 1, 0.5f).Select(value => 1.5f + value).ToArray();
                foreach (var (at, sum) in from at in new[] { 0, v / 2, v - 1 }
                                          from o in new[]
                                          {
                                              new CrossEntropyOptions { Reduction = Reduction.Sum },
                                              new CrossEntropyOptions { Reduction = Reduction.Sum, LabelSmoothing = 0.1f },
                                              new CrossEntropyOptions { Reduction = Reduction.Sum, LabelSmoothing = 0.1f, ClassWeights = weights },
                                          }
                                          select (at, o))
                {
                    var x = TestData.Logits(2, v, v);
                    x[v + at] = bad;
                    int[] y = [1, at == 2 ? 3 : 2];
                    var g = new float[x.Length];
                    float loss = CrossEntropy.LossAndGradient(x, y, g, sum);
                    string what = $"{bad} at {at}, {v} {width}, smoothing {sum.LabelSmoothing}, weights {!sum.ClassWeights.IsEmpty}";
                    Assert.True(float.IsNaN(loss), what);
                    Assert.True(g.AsSpan(v, v).ToArray().All(float.IsNaN), $"{what}: the row");
                    Close.Gradient(CrossEntropyReference.Gradient(x[..v], [1], sum), g.AsSpan(0, v), v, what: $"{what}: the other row");
                    var inPlace = (float[])x.Clone();
                    CrossEntropy.LossAndGradient(inPlace, y, inPlace, sum);
                    Assert.True(g.AsSpan().SequenceEqual(inPlace), $"{what}: in place differs");
                    AssertStreamedSame(x, y, g, loss, sum, what);
                }
            }
        }
    }

    /// <summary>
    /// Out of place with streaming stores (forced), where a forward that stores exponentials stores none and the write
    /// pass recomputes them, or computes them again by the two-pass loop where the single pass handed over: the same
    /// loss and bits as <paramref name="gradient"/>, written with ordinary stores.
    /// </summary>
    private static void AssertStreamedSame(float[] x, int[] y, float[] gradient, float loss, CrossEntropyOptions o, string what)
    {
        var streamed = new float[x.Length];
        using (CrossEntropyKernel.OverrideStreamedBytes(0))
        {
            Assert.True(loss.Equals(CrossEntropy.LossAndGradient(x, y, streamed, o)), $"{what}: streamed loss");
        }

        Assert.True(gradient.AsSpan().SequenceEqual(streamed), $"{what}: streamed differs");
    }

    private static void Check(float[] x, BFloat16[] bf, int[] y, CrossEntropyOptions o, string name)
    {
        int v = x.Length / y.Length;
        var expected = CrossEntropyReference.Gradient(x, y, o);
        double expectedLoss = CrossEntropyReference.Loss(x, y, o);
        foreach (int threads in TestData.ThreadCounts)
        {
            var ot = o with { MaxDegreeOfParallelism = threads };
            string what = $"{name} {threads} threads";
            var g = new float[x.Length];
            float loss = CrossEntropy.LossAndGradient(x, y, g, ot);
            Close.Gradient(expected, g, v, what: what);
            if (!double.IsInfinity(expectedLoss))
            {
                Close.Scalar(expectedLoss, loss, relative: 1e-5, absolute: 0, what: $"{what}: loss");
            }
            else
            {
                Assert.True(loss == expectedLoss, $"{what}: loss {loss}, expected {expectedLoss}");
            }

            var inPlace = (float[])x.Clone();
            Assert.True(loss == CrossEntropy.LossAndGradient(inPlace, y, inPlace, ot), what);
            Assert.True(g.AsSpan().SequenceEqual(inPlace), $"{what}: in place differs");
            AssertStreamedSame(x, y, g, loss, ot, what);
            // The float gradient rounded once, with and without the cap, and the same loss.
            var gb = new BFloat16[bf.Length];
            Assert.True(loss == CrossEntropy.LossAndGradient(bf, y, gb, ot), what);
            for (int i = 0; i < gb.Length; i++)
            {
                if (i % v != y[i / v])
                {
                    Assert.True(((BFloat16)g[i]).Bits == gb[i].Bits, $"{what}: element {i}");
                }
            }

            var bfInPlace = (BFloat16[])bf.Clone();
            Assert.True(loss == CrossEntropy.LossAndGradient(bfInPlace, y, bfInPlace, ot), what);
            Assert.True(gb.Select(b => b.Bits).SequenceEqual(bfInPlace.Select(b => b.Bits)), $"{what}: bfloat16 in place differs");

            // Half likewise: the float gradient of the Half values (the same numbers but for any tiny value that Half
            // rounds) rounded once.
            var h = x.Select(value => (Half)value).ToArray();
            var xh = h.Select(value => (float)value).ToArray();
            var gf = new float[xh.Length];
            float lossHalf = CrossEntropy.LossAndGradient(xh, y, gf, ot);
            var gh = new Half[h.Length];
            Assert.True(lossHalf == CrossEntropy.LossAndGradient(h, y, gh, ot), what);
            for (int i = 0; i < gh.Length; i++)
            {
                if (i % v != y[i / v])
                {
                    Assert.True(BitConverter.HalfToUInt16Bits((Half)gf[i]) == BitConverter.HalfToUInt16Bits(gh[i]), $"{what}: Half element {i}");
                }
            }

            var hInPlace = (Half[])h.Clone();
            Assert.True(lossHalf == CrossEntropy.LossAndGradient(hInPlace, y, hInPlace, ot), what);
            Assert.True(gh.Select(BitConverter.HalfToUInt16Bits).SequenceEqual(hInPlace.Select(BitConverter.HalfToUInt16Bits)), $"{what}: Half in place differs");
        }
    }
}
