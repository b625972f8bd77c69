using Xent.Layers;

namespace Xent.Tests.Layers;

public class AttentionTests
{
    public static TheoryData<VectorWidth, int, int> Cases()
    {
        var data = new TheoryData<VectorWidth, int, int>();
        foreach (var width in Simd.Supported())
        {
            data.Add(width, 64, 4);  // head size 16: whole 512-bit vectors
            data.Add(width, 40, 2);  // head size 20: vector and scalar remainders everywhere
        }

        return data;
    }

    // out[b, t, h*hs + i] = sum_{s <= t} softmax_s(q_t . k_s / sqrt(hs)) v_s[i], in double.
    private static double[] Reference(double[] qkv, int batch, int seq, int dim, int heads)
    {
        int hs = dim / heads;
        var output = new double[batch * seq * dim];
        for (int b = 0; b < batch; b++)
        {
            for (int h = 0; h < heads; h++)
            {
                for (int t = 0; t < seq; t++)
                {
                    var scores = new double[t + 1];
                    for (int s = 0; s <= t; s++)
                    {
                        for (int i = 0; i < hs; i++)
                        {
                            scores[s] += qkv[((b * seq) + t) * 3 * dim + (h * hs) + i] * qkv[((b * seq) + s) * 3 * dim + dim + (h * hs) + i];
                        }

                        scores[s] /= Math.Sqrt(hs);
                    }

                    double max = scores.Max();
                    double sum = scores.Sum(x => Math.Exp(x - max));
                    for (int s = 0; s <= t; s++)
                    {
                        double p = Math.Exp(scores[s] - max) / sum;
                        for (int i = 0; i < hs; i++)
                        {
                            output[((b * seq) + t) * dim + (h * hs) + i] += p * qkv[((b * seq) + s) * 3 * dim + (2 * dim) + (h * hs) + i];
                        }
                    }
                }
            }
        }

        return output;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardAndBackward_MatchFloat64_AtEveryWidth(VectorWidth width, int dim, int heads)
    {
        int batch = 2, seq = 19;
        var random = new Random(dim);
        float[] qkv = [.. Enumerable.Range(0, batch * seq * 3 * dim).Select(_ => (float)(random.NextDouble() * 2 - 1))];
        float[] upstream = [.. Enumerable.Range(0, batch * seq * dim).Select(_ => (float)(random.NextDouble() * 2 - 1))];
        var output = new float[batch * seq * dim];
        var att = new float[batch * heads * seq * seq];
        var dqkv = new float[qkv.Length];
        dqkv.AsSpan().Fill(float.NaN); // overwritten, never read
        using (Simd.Override(width))
        {
            Attention.Forward(qkv, batch, seq, heads, output, att, 2);
            Attention.Backward(upstream, qkv, att, batch, seq, heads, dqkv, 2);
        }

        double[] q64 = [.. qkv.Select(x => (double)x)];
        var expected = Reference(q64, batch, seq, dim, heads);
        for (int i = 0; i < output.Length; i++)
        {
            Assert.True(Math.Abs(output[i] - expected[i]) <= 2e-6, $"output[{i}] = {output[i]}, expected {expected[i]}");
        }

        // Gradient of sum(out * upstream) by central differences of the float64 forward, on a sample of entries
        // from all three of q, k and v.
        double Objective() => Reference(q64, batch, seq, dim, heads).Select((x, i) => x * upstream[i]).Sum();
        for (int k = 0; k < 60; k++)
        {
            int i = random.Next(qkv.Length);
            double original = q64[i];
            q64[i] = original + 1e-5;
            double plus = Objective();
            q64[i] = original - 1e-5;
            double minus = Objective();
            q64[i] = original;
            double numeric = (plus - minus) / 2e-5;
            Assert.True(Math.Abs(dqkv[i] - numeric) <= 1e-5 + (1e-4 * Math.Abs(numeric)), $"dqkv[{i}] = {dqkv[i]}, expected {numeric}");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Row_gives_the_bits_of_the_forward_row(VectorWidth width, int dim, int heads)
    {
        // The KV-cache step: keys transposed [hs, capacity], values [capacity, D], one query row at a time.
        int seq = 19, hs = dim / heads, capacity = 24;
        var random = new Random(dim + 1);
        float[] qkv = [.. Enumerable.Range(0, seq * 3 * dim).Select(_ => (float)(random.NextDouble() * 2 - 1))];
        var output = new float[seq * dim];
        var att = new float[heads * seq * seq];
        var keys = new float[dim * capacity];
        var values = new float[capacity * dim];
        for (int t = 0; t < seq; t++)
        {
            for (int i = 0; i < dim; i++)
            {
                keys[(i * capacity) + t] = qkv[(t * 3 * dim) + dim + i];
                values[(t * dim) + i] = qkv[(t * 3 * dim) + (2 * dim) + i];
            }
        }

        using var scope = Simd.Override(width);
        Attention.Forward(qkv, 1, seq, heads, output, att, 1);
        for (int h = 0; h < heads; h++)
        {
            for (int t = 0; t < seq; t++)
            {
                var p = new float[seq];
                var y = new float[hs];
                Attention.Row(qkv.AsSpan((t * 3 * dim) + (h * hs), hs), keys.AsSpan(h * hs * capacity), capacity,
                    values.AsSpan(h * hs), dim, t, p, y);
                Assert.Equal(att.AsSpan(((h * seq) + t) * seq, seq).ToArray(), p);
                Assert.Equal(output.AsSpan((t * dim) + (h * hs), hs).ToArray(), y);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void TiledRow_gives_the_bits_of_Row(VectorWidth width, int dim, int heads)
    {
        // 70 positions: three tiles of 32, the last partial; the tiles' unused slots hold garbage, which the row's
        // probabilities past t may score but its output never reads.
        int seq = 70, hs = dim / heads, capacity = 96;
        var random = new Random(dim + 3);
        float[] qkv = [.. Enumerable.Range(0, seq * 3 * dim).Select(_ => (float)(random.NextDouble() * 2 - 1))];
        var keys = new float[dim * capacity];
        var values = new float[capacity * dim];
        var tiles = Enumerable.Range(0, heads).Select(_ => Enumerable.Repeat(float.NaN, capacity * hs).ToArray()).ToArray();
        var valueRows = Enumerable.Range(0, heads).Select(_ => new float[capacity * hs]).ToArray();
        for (int t = 0; t < seq; t++)
        {
            for (int i = 0; i < dim; i++)
            {
                keys[(i * capacity) + t] = qkv[(t * 3 * dim) + dim + i];
                values[(t * dim) + i] = qkv[(t * 3 * dim) + (2 * dim) + i];
            }

            for (int h = 0; h < heads; h++)
            {
                Attention.StoreTiledKey(qkv.AsSpan((t * 3 * dim) + dim + (h * hs), hs), t, tiles[h]);
                qkv.AsSpan((t * 3 * dim) + (2 * dim) + (h * hs), hs).CopyTo(valueRows[h].AsSpan(t * hs));
            }
        }

        // The layout: element i of key s at 32 (hs (s / 32) + i) + s % 32.
        Assert.Equal(qkv[(37 * 3 * dim) + dim + hs + 5], tiles[1][(Attention.KeyTile * ((hs * (37 / 32)) + 5)) + (37 % 32)]);
        using var scope = Simd.Override(width);
        for (int h = 0; h < heads; h++)
        {
            foreach (int t in new[] { 0, 1, 30, 31, 32, 33, 63, 64, 69 })
            {
                var p = new float[seq];
                var y = new float[hs];
                var query = qkv.AsSpan((t * 3 * dim) + (h * hs), hs);
                Attention.Row(query, keys.AsSpan(h * hs * capacity), capacity, values.AsSpan(h * hs), dim, t, p, y);
                var tiledP = new float[(t / 32 * 32) + 32];
                var tiledY = new float[hs];
                Attention.TiledRow(query, tiles[h].AsSpan(0, tiledP.Length * hs), valueRows[h].AsSpan(0, (t + 1) * hs), t, tiledP, tiledY);
                Assert.Equal(p.AsSpan(0, t + 1).ToArray(), tiledP.AsSpan(0, t + 1).ToArray());
                Assert.Equal(y, tiledY);
            }
        }
    }

    [Fact]
    public void TiledRow_and_StoreTiledKey_reject_shapes_that_do_not_fit()
    {
        var q = new float[8];
        var tiles = new float[32 * 8];
        var values = new float[8];
        var p = new float[32];
        var y = new float[8];
        Attention.TiledRow(q, tiles, values, 0, p, y); // fits
        Assert.Throws<ArgumentException>(() => Attention.TiledRow([], tiles, values, 0, p, y));
        Assert.Throws<ArgumentOutOfRangeException>(() => Attention.TiledRow(q, tiles, values, -1, p, y));
        Assert.Throws<ArgumentException>(() => Attention.TiledRow(q, tiles.AsSpan(1), values, 0, p, y));
        Assert.Throws<ArgumentException>(() => Attention.TiledRow(q, tiles, values, 1, p, y)); // values [2, hs] needed
        Assert.Throws<ArgumentException>(() => Attention.TiledRow(q, tiles, new float[64], 32, new float[64], y)); // a second tile
        Assert.Throws<ArgumentException>(() => Attention.TiledRow(q, tiles, values, 0, new float[31], y));
        Assert.Throws<ArgumentException>(() => Attention.TiledRow(q, tiles, values, 0, p, new float[7]));
        Attention.StoreTiledKey(q, 31, tiles);
        Assert.Throws<ArgumentException>(() => Attention.StoreTiledKey([], 0, tiles));
        Assert.Throws<ArgumentOutOfRangeException>(() => Attention.StoreTiledKey(q, -1, tiles));
        Assert.Throws<ArgumentException>(() => Attention.StoreTiledKey(q, 32, tiles));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardAndBackward_SameBits_ForAnyThreadCount_AndRowsOutsideTheCausalPart(VectorWidth width, int dim, int heads)
    {
        // T = 37: groups of four query rows and a partial last group, rows ending inside and at the end of a vector.
        // Non-finite dP entries above the diagonal (an infinite value row seen only by earlier queries) must not reach
        // the rowsum of the rows before it: the masked last vector keeps only each row's causal entries.
        int batch = 3, seq = 37;
        var random = new Random(dim + 7);
        float[] qkv = [.. Enumerable.Range(0, batch * seq * 3 * dim).Select(_ => (float)(random.NextDouble() * 2 - 1))];
        float[] upstream = [.. Enumerable.Range(0, batch * seq * dim).Select(_ => (float)(random.NextDouble() * 2 - 1))];
        using var scope = Simd.Override(width);
        float[]? firstOutput = null, firstAtt = null, firstDqkv = null;
        foreach (int threads in new[] { 1, 2, 3, -1 })
        {
            var output = new float[batch * seq * dim];
            var att = new float[batch * heads * seq * seq];
            var dqkv = new float[qkv.Length];
            Attention.Forward(qkv, batch, seq, heads, output, att, threads);
            Attention.Backward(upstream, qkv, att, batch, seq, heads, dqkv, threads);
            Assert.All(dqkv, x => Assert.True(float.IsFinite(x)));
            if (firstOutput is null)
            {
                (firstOutput, firstAtt, firstDqkv) = (output, att, dqkv);
                continue;
            }

            Assert.Equal(firstOutput, output);
            Assert.Equal(firstAtt, att);
            Assert.Equal(firstDqkv, dqkv);
        }

        // The last position's value row made infinite: positions before it never attend to it, so their query
        // gradients stay finite and equal to those of the finite run.
        float[] inf = (float[])qkv.Clone();
        for (int i = 0; i < dim; i++)
        {
            inf[((seq - 1) * 3 * dim) + (2 * dim) + i] = float.PositiveInfinity;
        }

        var o2 = new float[batch * seq * dim];
        var a2 = new float[batch * heads * seq * seq];
        var d2 = new float[qkv.Length];
        Attention.Forward(inf, batch, seq, heads, o2, a2, 2);
        Attention.Backward(upstream, inf, a2, batch, seq, heads, d2, 2);
        for (int t = 0; t < seq - 1; t++)
        {
            for (int i = 0; i < dim; i++)
            {
                Assert.Equal(firstDqkv![(t * 3 * dim) + i], d2[(t * 3 * dim) + i]);
            }
        }
    }
    /// <summary>
    /// Probabilities not kept (an empty span): the forward's output and the backward's gradient, which then recomputes
    /// each head's probabilities, are the bits of the run that keeps them, for any thread count; T of 1, a multiple of
    /// eight, and partial groups of four and eight rows; no rows at all (T or B of 0).
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Probabilities_not_kept_give_the_same_bits(VectorWidth width, int dim, int heads)
    {
        var random = new Random(dim + 11);
        using var scope = Simd.Override(width);
        foreach (var (batch, seq) in new[] { (2, 37), (3, 1), (1, 64), (2, 13), (2, 0), (0, 5) })
        {
            float[] qkv = [.. Enumerable.Range(0, batch * seq * 3 * dim).Select(_ => (float)(random.NextDouble() * 4 - 2))];
            float[] upstream = [.. Enumerable.Range(0, batch * seq * dim).Select(_ => (float)(random.NextDouble() * 2 - 1))];
            var output = new float[batch * seq * dim];
            var att = new float[batch * heads * seq * seq];
            var dqkv = new float[qkv.Length];
            Attention.Forward(qkv, batch, seq, heads, output, att, 1);
            Attention.Backward(upstream, qkv, att, batch, seq, heads, dqkv, 1);
            foreach (int threads in new[] { 1, 2, 3 })
            {
                var output2 = new float[output.Length];
                var dqkv2 = new float[dqkv.Length];
                Attention.Forward(qkv, batch, seq, heads, output2, default, threads);
                Attention.Backward(upstream, qkv, default, batch, seq, heads, dqkv2, threads);
                BatchInvariance.BatchTrials.SameBits(output, output2, $"output, B {batch}, T {seq}, {threads} threads");
                BatchInvariance.BatchTrials.SameBits(dqkv, dqkv2, $"dqkv, B {batch}, T {seq}, {threads} threads");
            }
        }
    }
}
