using Xent.Kernels;
using Xent.Reference;

namespace Xent.Tests.Core;

/// <summary>
/// Gradients large enough to be written with non-temporal stores from a scratch row (out of place, at least
/// <see cref="CrossEntropyKernel.StreamedElements"/> elements) equal the in-place result bitwise, for every
/// width and thread count, and match the reference. V = 50001 puts each row at a different 64-byte alignment.
/// </summary>
public class StreamedGradientTests
{
    [Fact]
    public void OutOfPlaceEqualsInPlaceAndTheReference()
    {
        const int v = 50001;
        int rows = (int)(CrossEntropyKernel.StreamedElements / v) + 1;
        var x = TestData.Logits(rows, v, 21);
        var y = TestData.Targets(rows, v, 21, ignoreEvery: 5);
        var o = new CrossEntropyOptions { ZLoss = 1e-3f }; // no weights: Mean is then Sum / kept rows
        double[]? expectedRows = null;
        foreach (var width in Simd.Supported())
        {
            using var scope = Simd.Override(width);
            foreach (int threads in TestData.ThreadCounts)
            {
                var ot = o with { MaxDegreeOfParallelism = threads };
                var g = new float[x.Length];
                float loss = CrossEntropy.LossAndGradient(x, y, g, ot);
                var inPlace = (float[])x.Clone();
                Assert.Equal(loss, CrossEntropy.LossAndGradient(inPlace, y, inPlace, ot));
                Assert.True(g.AsSpan().SequenceEqual(inPlace), $"{width} t{threads}: streamed differs from in place");

                // Two rows against the reference (the whole matrix in float64 would be slow).
                expectedRows ??= CrossEntropyReference.Gradient(x.AsSpan(0, 2 * v), y.AsSpan(0, 2), o with { Reduction = Reduction.Sum }, 1.0 / y.Count(t => t != -100));
                Close.Gradient(expectedRows, g.AsSpan(0, 2 * v), v, what: $"{width} t{threads}");
            }
        }
    }
}
