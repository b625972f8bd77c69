using Xent.Kernels;
using Xent.Reference;

namespace Xent.Tests.Core;

/// <summary>
/// Rows whose max is tied (2 or 3 logits of 17 or 12, the rest in (-1, 1)): the sum of exp(z - max) is 2 or 3 plus a
/// tail of 1e-4 to 1e-3, so no term leads it and it is not summed again with the max's terms apart. The exp pass of
/// probability targets and of label smoothing (the two-pass loop where those take it: every block at the scalar width,
/// short ones elsewhere) kept that sum in float over the whole block: beside the 1s, each term of exp(-17) rounded to 0
/// or to an ulp of 1 (5.8e-4 of the loss at the scalar width, 1.8e-5 at 512 bits, 1.7e-4 with label smoothing). Now
/// it is carried on in double as the other sums are, as the class-index loop's is.
/// </summary>
public class TiedMaxSumTests
{
    private const double Tolerance = 4e-6;

    public static TheoryData<int, float, int> Shapes() => new()
    {
        { 300, 17f, 2 },
        { 1000, 17f, 3 },
        { 32000, 17f, 2 },
        { 32000, 17f, 3 },
        { 32000, 12f, 2 },
        { 32000, 12f, 1 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ProbabilityTargetsKeepTheTail(int v, float top, int ties)
    {
        var x = Rows(v, top, ties, seed: v + ties);
        var t = new float[x.Length];
        for (int r = 0; r < Rows(); r++)
        {
            // On the first tie (loss about ln ties), split with a low class, and all on a low class.
            int[] at = r % 3 == 0 ? [0] : r % 3 == 1 ? [0, 3] : [1];
            foreach (int c in at)
            {
                t[(r * v) + c] = 1f / at.Length;
            }
        }

        foreach (var o in new[] { new CrossEntropyOptions { Reduction = Reduction.Sum }, new CrossEntropyOptions { Reduction = Reduction.Sum, LabelSmoothing = 0.1f } })
        {
            double[] expected = CrossEntropyReference.RowLosses(x, t, v, o);
            double[] gradient = CrossEntropyReference.Gradient(x, t, v, o);
            foreach (var width in Simd.Supported())
            {
                using var scope = Simd.Override(width);
                string what = $"V {v}, {ties} x {top}, smoothing {o.LabelSmoothing}, {width}";
                var losses = new float[Rows()];
                CrossEntropy.LossPerRow(x, t, v, losses, o);
                for (int r = 0; r < losses.Length; r++)
                {
                    Close.Scalar(expected[r], losses[r], relative: Tolerance, absolute: 0, what: $"{what} row {r}");
                }

                Close.Scalar(expected.Sum(), CrossEntropy.Loss(x, t, v, o), relative: Tolerance, absolute: 0, what: $"{what} Loss");
                var g = new float[x.Length];
                Close.Scalar(expected.Sum(), CrossEntropy.LossAndGradient(x, t, v, g, o), relative: Tolerance, absolute: 0, what: $"{what} LossAndGradient");
                for (int r = 0; r < Rows(); r++)
                {
                    // The tied column's p = 1 / ties less the tail's share, where the lse's error shows whole. Where t
                    // cancels p (the split rows) the float gradient is good to p times half an ulp of the float lse of
                    // 17.7 (9.5e-7): 5e-7 absolute (the sum dropped from the lse 2e-4 of it at the scalar width).
                    int at = r * v;
                    Close.Scalar(gradient[at], g[at], relative: Tolerance, absolute: 1e-6, what: $"{what} row {r} dz[0]");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void LabelSmoothingOfClassIndicesKeepsTheTail(int v, float top, int ties)
    {
        var x = Rows(v, top, ties, seed: v + ties + 1);
        var y = new int[Rows()];
        for (int r = 0; r < y.Length; r++)
        {
            y[r] = r % 2;
        }

        var o = new CrossEntropyOptions { Reduction = Reduction.Sum, LabelSmoothing = 0.1f };
        double[] expected = CrossEntropyReference.RowLosses(x, y, o);
        foreach (var width in Simd.Supported())
        {
            using var scope = Simd.Override(width);
            string what = $"V {v}, {ties} x {top}, {width}";
            var losses = new float[y.Length];
            CrossEntropy.LossPerRow(x, y, losses, o);
            for (int r = 0; r < losses.Length; r++)
            {
                Close.Scalar(expected[r], losses[r], relative: Tolerance, absolute: 0, what: $"{what} row {r}");
            }

            Close.Scalar(expected.Sum(), CrossEntropy.Loss(x, y, o), relative: Tolerance, absolute: 0, what: $"{what} Loss");
        }
    }

    /// <summary>
    /// The scalar width's exp pass (the two-pass loop, for every block there) sums its terms in double one by one: its
    /// float sums flushed every 64 terms had rounded up to 63 of them at the scale of the ties' 1s, 5 ulp of p = 1/2 at
    /// two ties of 17. Now the tied columns' p is within 2^-24 of itself in one block, and 2^-23 across three (each
    /// block's scale K exp(max - lse) carries K's own rounding).
    /// </summary>
    [Theory]
    [InlineData(2000)]
    [InlineData(40000)]
    public void TheScalarWidthKeepsATiedMaxsProbabilityToAnUlpOrTwo(int v)
    {
        var random = new Random(5);
        const int rows = 32;
        var x = new float[rows * v];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (float)((random.NextDouble() * 2) - 1);
        }

        var y = new int[rows];
        for (int r = 0; r < rows; r++)
        {
            float top = 10f + (float)(random.NextDouble() * 10);
            x[(r * v) + 500] = top;
            x[(r * v) + v - 500] = top;
            y[r] = 3;
        }

        var o = new CrossEntropyOptions { Reduction = Reduction.Sum };
        double[] expected = CrossEntropyReference.Gradient(x, y, o);
        using var scope = Simd.Override(VectorWidth.Scalar);
        var g = new float[x.Length];
        CrossEntropy.LossAndGradient(x, y, g, o);
        for (int r = 0; r < rows; r++)
        {
            foreach (int c in new[] { 500, v - 500 })
            {
                int at = (r * v) + c;
                Close.Scalar(expected[at], g[at], relative: v <= CrossEntropyKernel.BlockColumns ? Math.Pow(2, -24) : Math.Pow(2, -23), absolute: 0, what: $"V {v} row {r} p[{c}]");
            }
        }
    }

    private static int Rows() => 6;

    /// <summary>Rows of logits in (-1, 1) with <paramref name="ties"/> of them <paramref name="top"/>, the first at column 0.</summary>
    private static float[] Rows(int v, float top, int ties, int seed)
    {
        var random = new Random(seed);
        var x = new float[Rows() * v];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (float)((random.NextDouble() * 2) - 1);
        }

        for (int r = 0; r < Rows(); r++)
        {
            for (int j = 0; j < ties; j++)
            {
                // Spread over the row: the ties in different lanes and, at 32000, in both blocks.
                x[(r * v) + (j * ((v / ties) + 5) % v)] = top;
            }
        }

        return x;
    }
}
