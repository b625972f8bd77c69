using Xent.Layers;

namespace Xent.Tests.Layers;

/// <summary>
/// The blocked attention kernels against the row-by-row SpanMath functions they stand for, bit for bit: blocks of 1 to
/// 8 rows (whole and partial, the 8-row path and its fallbacks), odd lengths, head sizes that are and are not a
/// multiple of the vector, at every width.
/// </summary>
public class AttentionKernelsTests
{
    public static TheoryData<VectorWidth, int> Cases()
    {
        var data = new TheoryData<VectorWidth, int>();
        foreach (var width in Simd.Supported())
        {
            foreach (int hs in new[] { 16, 20, 5, 37 })
            {
                data.Add(width, hs);
            }
        }

        return data;
    }

    private static float[] RandomArray(Random random, int length) =>
        [.. Enumerable.Range(0, length).Select(_ => (float)((random.NextDouble() * 2) - 1))];

    [Theory]
    [MemberData(nameof(Cases))]
    public void WeightedSums_blocks_give_the_bits_of_rows_alone(VectorWidth width, int hs)
    {
        // Query pattern (rows t0 + i over r in [0, t0 + 1 + i), weights along a row) and key pattern (columns s + i
        // over r in [s + i, seq), weights down a column), T = 37 (odd), every block start and size up to 8.
        const int seq = 37, stride = 41;
        var random = new Random(hs);
        float[] w = RandomArray(random, seq * seq);
        float[] x = RandomArray(random, (seq * stride) + hs);
        foreach (bool keySide in new[] { false, true })
        {
            for (int start = 0; start < seq; start++)
            {
                for (int m = 1; m <= Math.Min(8, seq - start); m++)
                {
                    int wi = keySide ? 1 : seq, wr = keySide ? seq : 1;
                    int lo = keySide ? start : 0, loStep = keySide ? 1 : 0, hi = keySide ? seq : start + 1, hiStep = keySide ? 0 : 1;
                    int ys = hs + 3;
                    var y = new float[m * ys];
                    AttentionKernels.WeightedSums(ref w[start * wi], wi, wr, ref x[0], stride, ref y[0], ys, hs, m, lo, loStep, hi,
                        hiStep, width);
                    for (int i = 0; i < m; i++)
                    {
                        int from = lo + (i * loStep), to = hi + (i * hiStep);
                        float[] weights = [.. Enumerable.Range(from, to - from).Select(r => w[((start + i) * wi) + (r * wr)])];
                        var expected = new float[hs];
                        SpanMath.WeightedRowSum(weights, x.AsSpan(from * stride), stride, expected, width);
                        Assert.True(expected.AsSpan().SequenceEqual(y.AsSpan(i * ys, hs)),
                            $"keySide {keySide}, start {start}, m {m}, row {i}");
                    }
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void RowsTimesMatrix_blocks_give_the_bits_of_rows_alone(VectorWidth width, int hs)
    {
        // Rows t .. t + m - 1 (t a multiple of 4) of causal scores against a [hs, ld] matrix, capped at T = 37 or 40
        // (rows ending inside and at the end of a vector; the two-vector and one-vector column loops).
        const int ld = 43;
        int lanes = width == VectorWidth.Scalar ? 1 : (int)width / 32;
        var random = new Random(hs + 100);
        float[] mt = RandomArray(random, hs * ld);
        float[] x = RandomArray(random, 4 * (hs + 2));
        foreach (int cap in new[] { 37, 40 })
        {
            for (int t = 0; t < cap; t += 4)
            {
                for (int m = 1; m <= Math.Min(4, cap - t); m++)
                {
                    var y = new float[m * cap];
                    AttentionKernels.RowsTimesMatrix(0.37f, ref x[0], hs + 2, hs, ref mt[0], ld, ref y[0], cap, m, t, cap, width);
                    for (int i = 0; i < m; i++)
                    {
                        int end = Math.Min(cap, (t + i + lanes) / lanes * lanes);
                        var expected = new float[end];
                        SpanMath.RowTimesMatrix(0.37f, x.AsSpan(i * (hs + 2), hs), mt, ld, expected, width);
                        Assert.True(expected.AsSpan().SequenceEqual(y.AsSpan(i * cap, end)), $"cap {cap}, t {t}, m {m}, row {i}");
                    }
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void CausalSoftmax_rows_and_blocks_give_the_bits_of_the_SpanMath_passes(VectorWidth width)
    {
        // Rows of T = 37 and 40 (ending inside and at the end of a vector, so the max's scalar lanes and the exp's
        // padded vector both run), one at a time and four at a time, against CausalSoftmaxScalar's Max, ExpSubtractAndSum
        // and Scale calls. Scores up to 30 apart, each row's largest on the diagonal, in the row's last elements.
        var random = new Random(7);
        foreach (int seq in new[] { 37, 40 })
        {
            float[] scores = [.. RandomArray(random, seq * seq).Select((v, i) => i / seq == i % seq ? 15 + v : 15 * v)];
            var expected = (float[])scores.Clone();
            for (int t = 0; t < seq; t++)
            {
                AttentionKernels.CausalSoftmaxScalar(ref expected[t * seq], t, seq, width);
            }

            var rows = (float[])scores.Clone();
            var blocks = (float[])scores.Clone();
            for (int t = 0; t < seq; t++)
            {
                Row(rows, t, seq, width);
            }

            // As the attention forward: four rows at a time, the last rows of T one at a time.
            for (int t = 0; t < seq; t += t + 4 <= seq ? 4 : 1)
            {
                if (t + 4 <= seq)
                {
                    AttentionKernels.CausalSoftmax4(ref blocks[t * seq], t, seq, width);
                }
                else
                {
                    Row(blocks, t, seq, width);
                }
            }

            BatchInvariance.BatchTrials.SameBits(expected, rows, $"rows one at a time, T {seq}, {width}");
            BatchInvariance.BatchTrials.SameBits(expected, blocks, $"rows four at a time, T {seq}, {width}");
        }
    }

    public static TheoryData<VectorWidth> Widths() => [.. Simd.Supported()];

    private static void Row(float[] scores, int t, int seq, VectorWidth width)
    {
        if (!AttentionKernels.CausalSoftmax(ref scores[t * seq], t, seq, width))
        {
            AttentionKernels.CausalSoftmaxScalar(ref scores[t * seq], t, seq, width);
        }
    }
}
