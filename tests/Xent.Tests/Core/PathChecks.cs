using Xent.Reference;

namespace Xent.Tests.Core;

/// <summary>
/// Runs every float32 entry point on one input, for every vector width and thread counts 1, 2 and 7, and
/// compares each with the float64 reference (computed once per input: it is the slow part).
/// </summary>
internal static class PathChecks
{
    private const float Upstream = 1.5f;

    public static void ClassIndex(float[] x, int[] y, CrossEntropyOptions options, string what)
    {
        int rows = y.Length, classes = rows == 0 ? 0 : x.Length / rows;
        var expectedRows = CrossEntropyReference.RowLosses(x, y, options);
        var expectedLse = CrossEntropyReference.LogSumExp(x, rows, options.SoftCap);
        var reductions = new[] { Reduction.Mean, Reduction.Sum };
        var expectedLoss = reductions.Select(r => CrossEntropyReference.Loss(x, y, options with { Reduction = r })).ToArray();
        var expectedGradient = reductions.Select(r => CrossEntropyReference.Gradient(x, y, options with { Reduction = r }, Upstream)).ToArray();
        var upstream = Enumerable.Range(0, rows).Select(n => (n % 3) - 0.75f).ToArray();
        var expectedRowGradient = CrossEntropyReference.Gradient(x, y, upstream.Select(u => (double)u).ToArray(), options);

        foreach (var width in Simd.Supported())
        {
            using var scope = Simd.Override(width);
            foreach (int threads in TestData.ThreadCounts)
            {
                var o = options with { MaxDegreeOfParallelism = threads };
                string at = $"{what} {width} t{threads}";
                var losses = new float[rows];
                CrossEntropy.LossPerRow(x, y, losses, o);
                Close.Vector(expectedRows, losses, what: $"{at} rows");

                var lse = new float[rows];
                Array.Fill(losses, -1f);
                CrossEntropy.LossPerRow(x, y, losses, lse, o);
                Close.Vector(expectedLse, lse, what: $"{at} lse");
                Close.Vector(expectedRows, losses, what: $"{at} rows (with lse)");

                for (int r = 0; r < reductions.Length; r++)
                {
                    var ro = o with { Reduction = reductions[r] };
                    Close.Scalar(expectedLoss[r], CrossEntropy.Loss(x, y, ro), what: $"{at} {reductions[r]} loss");
                    var g = new float[x.Length];
                    Close.Scalar(expectedLoss[r], CrossEntropy.LossAndGradient(x, y, g, Upstream, default, ro), what: $"{at} {reductions[r]} loss (gradient)");
                    Close.Gradient(expectedGradient[r], g, classes, what: $"{at} {reductions[r]}");

                    var inPlace = (float[])x.Clone();
                    CrossEntropy.LossAndGradient(inPlace, y, inPlace, Upstream, default, ro);
                    Assert.Equal(g, inPlace); // in place is bitwise out of place
                }

                var rowGradient = new float[x.Length];
                CrossEntropy.Gradient(x, y, upstream, rowGradient, o);
                Close.Gradient(expectedRowGradient, rowGradient, classes, what: $"{at} per-row upstream");
            }
        }
    }

    public static void Probabilities(float[] x, float[] t, int classes, CrossEntropyOptions options, string what)
    {
        int rows = x.Length / classes;
        var expectedRows = CrossEntropyReference.RowLosses(x, t, classes, options);
        var reductions = new[] { Reduction.Mean, Reduction.Sum };
        var expectedLoss = reductions.Select(r => CrossEntropyReference.Loss(x, t, classes, options with { Reduction = r })).ToArray();
        var expectedGradient = reductions.Select(r => CrossEntropyReference.Gradient(x, t, classes, options with { Reduction = r })).ToArray();
        foreach (var width in Simd.Supported())
        {
            using var scope = Simd.Override(width);
            foreach (int threads in TestData.ThreadCounts)
            {
                var o = options with { MaxDegreeOfParallelism = threads };
                string at = $"{what} {width} t{threads}";
                var losses = new float[rows];
                CrossEntropy.LossPerRow(x, t, classes, losses, o);
                Close.Vector(expectedRows, losses, what: $"{at} soft rows");
                for (int r = 0; r < reductions.Length; r++)
                {
                    var ro = o with { Reduction = reductions[r] };
                    Close.Scalar(expectedLoss[r], CrossEntropy.Loss(x, t, classes, ro), what: $"{at} soft {reductions[r]}");
                    var g = new float[x.Length];
                    Close.Scalar(expectedLoss[r], CrossEntropy.LossAndGradient(x, t, classes, g, ro), what: $"{at} soft {reductions[r]} (gradient)");
                    Close.Gradient(expectedGradient[r], g, classes, what: $"{at} soft {reductions[r]}");

                    var inPlace = (float[])x.Clone();
                    CrossEntropy.LossAndGradient(inPlace, t, classes, inPlace, ro);
                    Assert.Equal(g, inPlace); // in place is bitwise out of place
                }
            }
        }
    }
}
