using System.Runtime.InteropServices;
using Xent.Reference;

namespace Xent.Tests.Core;

/// <summary>Half logits (float accumulation) and the pointer overloads.</summary>
public class HalfAndPointerTests
{

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void HalfLogitsMatchTheReferenceOfTheSameValues(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        var cases = new[] { (3, 37), (5, 5000), (1, 20000) }.SelectMany(size => new (int Rows, int V, CrossEntropyOptions O)[]
        {
            (size.Item1, size.Item2, new()), // each block's float copy through the one-pass forward
            (size.Item1, size.Item2, new() { LabelSmoothing = 0.1f, ClassWeights = TestData.Weights(size.Item2, 3) }), // the same, gathering sum w z
            (size.Item1, size.Item2, new() { LabelSmoothing = 0.1f, SoftCap = 10f, ZLoss = 1e-3f }), // the copy soft-capped first
        });
        foreach (var (rows, v, o) in cases)
        {
            var half = TestData.Logits(rows, v, v).Select(value => (Half)value).ToArray();
            var exact = half.Select(value => (float)value).ToArray(); // the values the kernel sees, exactly
            var y = TestData.Targets(rows, v, v);
            foreach (int threads in TestData.ThreadCounts)
            {
                var ot = o with { MaxDegreeOfParallelism = threads };
                // The loss is computed in float from exactly representable inputs: the float tolerance holds.
                Close.Scalar(CrossEntropyReference.Loss(exact, y, ot), CrossEntropy.Loss(half, y, ot), what: $"{rows}x{v}");
                var r = new float[rows];
                CrossEntropy.LossPerRow(half, y, r, ot);
                Close.Vector(CrossEntropyReference.RowLosses(exact, y, ot), r, what: $"{rows}x{v} rows");

                // The gradient is rounded to Half once at the end: 2^-11 relative (half an ulp of an 11-bit
                // significand is 2.4e-4; 1e-3 leaves margin), plus subnormal Half's absolute steps near 0.
                var g = new Half[half.Length];
                CrossEntropy.LossAndGradient(half, y, g, ot);
                var expected = CrossEntropyReference.Gradient(exact, y, ot);
                Close.Gradient(expected, g.Select(value => (float)value).ToArray(), v, relative: 1e-3, floor: 1e-3, what: $"{rows}x{v} Half gradient");

                var inPlace = (Half[])half.Clone();
                CrossEntropy.LossAndGradient(inPlace, y, inPlace, ot);
                Assert.Equal(g, inPlace);
            }
        }
    }

    [Fact]
    public unsafe void PointerOverloadsEqualTheSpanOverloads()
    {
        const int rows = 3, v = 30000;
        var x = TestData.Logits(rows, v, 8);
        var y = TestData.Targets(rows, v, 8);
        var o = new CrossEntropyOptions { LabelSmoothing = 0.05f };
        long length = x.Length;
        float* p = (float*)NativeMemory.Alloc((nuint)length, sizeof(float));
        float* g = (float*)NativeMemory.Alloc((nuint)length, sizeof(float));
        try
        {
            x.CopyTo(new Span<float>(p, x.Length));
            Assert.Equal(CrossEntropy.Loss(x, y, o), CrossEntropy.Loss(p, length, y, o));
            var r = new float[rows];
            var rp = new float[rows];
            CrossEntropy.LossPerRow(x, y, r, o);
            CrossEntropy.LossPerRow(p, length, y, rp, o);
            Assert.Equal(r, rp);
            var expected = new float[x.Length];
            float loss = CrossEntropy.LossAndGradient(x, y, expected, o);
            Assert.Equal(loss, CrossEntropy.LossAndGradient(p, length, y, g, length, o));
            Assert.True(expected.AsSpan().SequenceEqual(new Span<float>(g, x.Length)));
            Assert.Equal(loss, CrossEntropy.LossAndGradient(p, length, y, p, length, o)); // in place
            Assert.True(expected.AsSpan().SequenceEqual(new Span<float>(p, x.Length)));
            Assert.Throws<ArgumentException>(() => CrossEntropy.LossAndGradient(p, length, y, p + 1, length, o));
            Assert.Throws<ArgumentNullException>(() => CrossEntropy.Loss(null, length, y, o));
            Assert.Throws<ArgumentNullException>(() => CrossEntropy.LossAndGradient(p, length, y, null, length, o));
            Assert.Throws<ArgumentOutOfRangeException>(() => CrossEntropy.Loss(p, -1, y, o));
        }
        finally
        {
            NativeMemory.Free(p);
            NativeMemory.Free(g);
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void HalfSpecialValuesMatchTheReference(VectorWidth width)
    {
        // -inf (masked vocabulary), NaN, +inf, subnormal and negative-zero halves, in rows long enough for the
        // one-pass forward and with a shifted-back last vector (V = 1001).
        using var scope = Simd.Override(width);
        const int v = 1001;
        var rows = new List<Half[]>();
        var masked = TestData.Logits(1, v, 5).Select(x => (Half)x).ToArray();
        for (int c = 0; c < v; c += 2)
        {
            masked[c] = Half.NegativeInfinity;
        }

        rows.Add(masked);
        var withNaN = TestData.Logits(1, v, 6).Select(x => (Half)x).ToArray();
        withNaN[v - 2] = Half.NaN;
        rows.Add(withNaN);
        var withInf = TestData.Logits(1, v, 7).Select(x => (Half)x).ToArray();
        withInf[17] = Half.PositiveInfinity;
        rows.Add(withInf);
        rows.Add([.. Enumerable.Range(0, v).Select(c => BitConverter.UInt16BitsToHalf((ushort)(c % 3 == 0 ? 0x8000 : c % 1024)))]);
        int[] y = [1, 3, 5, 7];
        var half = rows.SelectMany(r => r).ToArray();
        var exact = half.Select(x => (float)x).ToArray();
        foreach (var o in new CrossEntropyOptions[] { new() { Reduction = Reduction.None }, new() { Reduction = Reduction.None, LabelSmoothing = 0.2f } })
        {
            var r = new float[4];
            CrossEntropy.LossPerRow(half, y, r, o);
            Close.Vector(CrossEntropyReference.RowLosses(exact, y, o), r, what: $"smoothing {o.LabelSmoothing}");
        }
    }

    [Fact]
    public void LogSumExpMatchesTheReference()
    {
        foreach (var width in Simd.Supported())
        {
            using var scope = Simd.Override(width);
            var x = TestData.Logits(4, 9000, 3, scale: 30f);
            var lse = new float[4];
            CrossEntropy.LogSumExp(x, lse);
            Close.Vector(CrossEntropyReference.LogSumExp(x, 4), lse);
            CrossEntropy.LogSumExp(x, lse, softCap: 15f);
            Close.Vector(CrossEntropyReference.LogSumExp(x, 4, 15f), lse);
        }
    }
}
