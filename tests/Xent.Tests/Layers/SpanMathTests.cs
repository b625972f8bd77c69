using Xent.Layers;
using Xent.Tests.Core;

namespace Xent.Tests.Layers;

public class SpanMathTests
{

    private static float[] Random(int n, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 8) - 4))];
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void ExpSubtractAndSum_MatchesFloat64_AtEveryLength(VectorWidth width)
    {
        for (int n = 0; n <= 41; n++)
        {
            float[] x = Random(n, n);
            float[] original = (float[])x.Clone();
            float shift = n == 0 ? 0 : original.Max();
            float sum = SpanMath.ExpSubtractAndSum(x, shift, width);
            double expected = 0;
            for (int i = 0; i < n; i++)
            {
                double e = Math.Exp((double)original[i] - shift);
                expected += e;
                Assert.Equal(e, x[i], 5e-6 * Math.Max(e, 1e-30) + 1e-30);
            }

            Assert.Equal(expected, sum, 1e-5 * Math.Max(expected, 1));
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void ColumnSums_AreTheRowsAddedInOrder(VectorWidth width)
    {
        // Dense's bias gradient: the bits of adding the rows one after another into the sums, for any column range.
        const int rows = 37, stride = 45;
        float[] m = Random(rows * stride, 5);
        foreach (var (start, cols) in new[] { (0, 45), (3, 16), (16, 29), (44, 1), (7, 0) })
        {
            var expected = new float[cols];
            for (int r = 0; r < rows; r++)
            {
                for (int c = 0; c < cols; c++)
                {
                    expected[c] += m[(r * stride) + start + c];
                }
            }

            var sums = new float[cols];
            SpanMath.ColumnSums(m.AsSpan(start), rows, stride, sums, width);
            Assert.Equal(expected, sums);
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void ExpSubtractAndSum_TailUsesTheLanesExp(VectorWidth width)
    {
        // Each element of a row whose length is no multiple of the vector gets the same bits as the same input at
        // a vector position of a longer row: one exp for every lane, none for the remainder only.
        float[] row = Random(64, 7);
        float[] whole = (float[])row.Clone();
        SpanMath.ExpSubtractAndSum(whole, 1.5f, width);
        for (int n = 1; n < 64; n += 3)
        {
            float[] part = row[..n];
            SpanMath.ExpSubtractAndSum(part, 1.5f, width);
            Assert.Equal(whole[..n], part);
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void ExpSubtractAndSum_SumDoesNotDependOnTrailingMinusInfinity(VectorWidth width)
    {
        // The causal softmax pads a row with -inf up to whole vectors or not, depending on the sequence length; the
        // KV cache relies on a row's sum having the same bits either way.
        float[] row = Random(64, 11);
        for (int n = 1; n < 48; n += 3)
        {
            float[] part = row[..n];
            float[] padded = [.. row[..n], .. Enumerable.Repeat(float.NegativeInfinity, 64 - n + (n % 5))];
            Assert.Equal(SpanMath.ExpSubtractAndSum(padded, 1.5f, width), SpanMath.ExpSubtractAndSum(part, 1.5f, width));
            Assert.Equal(padded[..n], part);
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void ElementWiseAndReductions_MatchFloat64_AtOddLengths(VectorWidth width)
    {
        foreach (int n in (int[])[0, 1, 3, 5, 8, 13, 16, 21, 35])
        {
            float[] x = Random(n, 100 + n), y = Random(n, 200 + n);
            Assert.Equal(n == 0 ? float.NegativeInfinity : x.Max(), SpanMath.Max(x, width));

            float[] axpy = (float[])y.Clone();
            SpanMath.Axpy(0.5f, x, axpy, width);
            float[] scaled = (float[])x.Clone();
            SpanMath.Scale(3f, scaled, width);
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(y[i] + (0.5f * x[i]), axpy[i]);
                Assert.Equal(x[i] * 3f, scaled[i]);
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void RowTimesMatrix_and_WeightedRowSum_MatchFloat64(VectorWidth width)
    {
        int k = 7, ld = 23, cols = 19;
        float[] x = Random(k, 1), m = Random(k * ld, 2);
        var y = new float[cols];
        SpanMath.RowTimesMatrix(0.25f, x, m, ld, y, width);
        var z = new float[cols];
        SpanMath.WeightedRowSum(x, m, ld, z, width);
        for (int j = 0; j < cols; j++)
        {
            double dot = 0;
            for (int p = 0; p < k; p++)
            {
                dot += (double)x[p] * m[(p * ld) + j];
            }

            Assert.Equal(0.25 * dot, y[j], 1e-5);
            Assert.Equal(dot, z[j], 1e-4);
        }

        Assert.Throws<ArgumentException>(() => SpanMath.WeightedRowSum(x, m.AsSpan(0, (k - 1) * ld), ld, z, width));
    }

    // The KV cache's scores: the matrix in tiles of 32 columns gives RowTimesMatrix's bits (each lane the same chain) at
    // every width, for K below and above a vector and N from one tile to several.
    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void RowTimesTiles_GivesRowTimesMatrixsBits(VectorWidth width)
    {
        foreach (int k in (int[])[1, 5, 16, 64])
        {
            foreach (int n in (int[])[32, 64, 96, 160, 288])
            {
                float[] x = Random(k, k), m = Random(k * n, n);
                var tiles = new float[k * n];
                for (int p = 0; p < k; p++)
                {
                    for (int j = 0; j < n; j++)
                    {
                        tiles[(SpanMath.Tile * ((j / SpanMath.Tile * k) + p)) + (j % SpanMath.Tile)] = m[(p * n) + j];
                    }
                }

                var expected = new float[n];
                SpanMath.RowTimesMatrix(0.125f, x, m, n, expected, width);
                var y = new float[n];
                SpanMath.RowTimesTiles(0.125f, x, tiles, y, width);
                Assert.Equal(expected, y);
            }
        }

        Assert.Throws<ArgumentException>(() => SpanMath.RowTimesTiles(1, new float[4], new float[4 * 32], new float[16], width));
        Assert.Throws<ArgumentException>(() => SpanMath.RowTimesTiles(1, new float[4], new float[(4 * 64) - 1], new float[64], width));
    }
}
