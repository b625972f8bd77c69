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

    private static void Check(float[] x, BFloat16[] bf, int[] y, CrossEntropyOptions o, string name)
    {
        int v = x.Length / y.Length;
        var expected = CrossEntropyReference.Gradient(x, y, o);
        foreach (int threads in TestData.ThreadCounts)
        {
            var ot = o with { MaxDegreeOfParallelism = threads };
            string what = $"{name} {threads} threads";
            var g = new float[x.Length];
            float loss = CrossEntropy.LossAndGradient(x, y, g, ot);
            Close.Gradient(expected, g, v, what: what);
            var inPlace = (float[])x.Clone();
            Assert.True(loss == CrossEntropy.LossAndGradient(inPlace, y, inPlace, ot), what);
            Assert.True(g.AsSpan().SequenceEqual(inPlace), $"{what}: in place differs");
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
