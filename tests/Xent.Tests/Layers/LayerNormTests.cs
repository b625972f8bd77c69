using Xent.Layers;
using Xent.Tests.BatchInvariance;
using Xent.Tests.Core;

namespace Xent.Tests.Layers;

public class LayerNormTests
{

    // Objective sum(out * upstream) of LayerNorm in double, with out = (x - mean) / sqrt(var + eps) * w + b.
    private static double Objective(double[] x, double[] w, double[] b, float[] upstream, int rows, int dim)
    {
        double total = 0;
        for (int n = 0; n < rows; n++)
        {
            var row = x.AsSpan(n * dim, dim).ToArray();
            double mean = row.Average();
            double rstd = 1 / Math.Sqrt((row.Sum(v => (v - mean) * (v - mean)) / dim) + 1e-5);
            for (int i = 0; i < dim; i++)
            {
                total += (((row[i] - mean) * rstd * w[i]) + b[i]) * upstream[(n * dim) + i];
            }
        }

        return total;
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void ForwardAndBackward_MatchFloat64_AtEveryWidth(VectorWidth width)
    {
        int rows = 37, dim = 40; // 40 = 32 + 8: whole vectors and remainders at every width
        var random = new Random(12);
        float[] R(int n, double scale, double offset) => [.. Enumerable.Range(0, n).Select(_ => (float)(offset + (scale * (random.NextDouble() * 2 - 1))))];
        var x = R(rows * dim, 2, 3); // a mean of 3 next to a spread of about 1: the centring matters
        var w = R(dim, 0.5, 1);
        var b = R(dim, 0.5, 0);
        var upstream = R(rows * dim, 1, 0);
        var output = new float[rows * dim];
        var mean = new float[rows];
        var rstd = new float[rows];
        var dx = R(rows * dim, 1, 0); // accumulated into
        var dx0 = (float[])dx.Clone();
        var dw = new float[dim];
        var db = new float[dim];
        dw.AsSpan().Fill(float.NaN); // overwritten
        using (Simd.Override(width))
        {
            LayerNorm.Forward(x, w, b, output, mean, rstd, 2);
            LayerNorm.Backward(upstream, x, w, mean, rstd, dx, dw, db, 2);
        }

        double[] x64 = [.. x.Select(v => (double)v)], w64 = [.. w.Select(v => (double)v)], b64 = [.. b.Select(v => (double)v)];
        for (int n = 0; n < rows; n++)
        {
            double m = x64.AsSpan(n * dim, dim).ToArray().Average();
            double s = 1 / Math.Sqrt((x64.AsSpan(n * dim, dim).ToArray().Sum(v => (v - m) * (v - m)) / dim) + 1e-5);
            for (int i = 0; i < dim; i++)
            {
                double expected = ((x64[(n * dim) + i] - m) * s * w64[i]) + b64[i];
                Assert.True(Math.Abs(output[(n * dim) + i] - expected) <= 2e-6 * Math.Max(1, Math.Abs(expected)), $"out[{n}, {i}]");
            }
        }

        double Slope(double[] values, int i)
        {
            double original = values[i];
            values[i] = original + 1e-5;
            double plus = Objective(x64, w64, b64, upstream, rows, dim);
            values[i] = original - 1e-5;
            double minus = Objective(x64, w64, b64, upstream, rows, dim);
            values[i] = original;
            return (plus - minus) / 2e-5;
        }

        for (int k = 0; k < 40; k++)
        {
            int i = random.Next(x.Length);
            double numeric = Slope(x64, i);
            Assert.True(Math.Abs(dx[i] - dx0[i] - numeric) <= 1e-4 + (1e-4 * Math.Abs(numeric)), $"dx[{i}] = {dx[i] - dx0[i]}, expected {numeric}");
        }

        for (int i = 0; i < dim; i++)
        {
            Assert.Equal(Slope(w64, i), dw[i], 1e-3 + (1e-4 * Math.Abs(dw[i])));
            Assert.Equal(Slope(b64, i), db[i], 1e-3 + (1e-4 * Math.Abs(db[i])));
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void Backward_IsBitwiseTheSame_ForAnyThreadCount_ClearedOrAliased(VectorWidth width)
    {
        // 300 rows and D 72: several row ranges and column ranges (whole vectors and a remainder) in one parallel call.
        int rows = 300, dim = 72;
        var random = new Random(31);
        float[] R(int n) => [.. Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2) - 1))];
        var x = R(rows * dim);
        var w = R(dim);
        var b = R(dim);
        var dout = R(rows * dim);
        var dx0 = R(rows * dim);
        var output = new float[rows * dim];
        var mean = new float[rows];
        var rstd = new float[rows];
        using var scope = Simd.Override(width);
        LayerNorm.Forward(x, w, b, output, mean, rstd, 1);
        (float[] Dx, float[] Dw, float[] Db) Run(int threads, bool clear, bool alias)
        {
            var dx = alias ? (float[])dout.Clone() : (float[])dx0.Clone();
            var upstream = alias ? dx : dout;
            var dw = new float[dim];
            var db = new float[dim];
            LayerNorm.Backward(upstream, x, w, mean, rstd, dx, dw, db, threads, clear);
            return (dx, dw, db);
        }

        var serial = Run(1, false, false);
        var (dwExpected, dbExpected) = ParameterGradients(dout, x, mean, rstd, rows, dim);
        BatchTrials.SameBits(dwExpected, serial.Dw, "dw as defined");
        BatchTrials.SameBits(dbExpected, serial.Db, "db as defined");
        var cleared = Run(1, true, false);
        var aliased = Run(1, false, true);

        // dx written over dout: the parameter gradients are still those of dout (each row range is read before it is written).
        BatchTrials.SameBits(serial.Dw, aliased.Dw, "aliased dw");
        BatchTrials.SameBits(serial.Db, aliased.Db, "aliased db");
        var zeroed = new float[rows * dim];
        var dwZeroed = new float[dim];
        var dbZeroed = new float[dim];
        LayerNorm.Backward(dout, x, w, mean, rstd, zeroed, dwZeroed, dbZeroed, 1);
        BatchTrials.SameBits(zeroed, cleared.Dx, "cleared dx");
        foreach (int threads in new[] { 2, 3, 4 })
        {
            foreach (var (expected, actual, what) in new[] { (serial, Run(threads, false, false), "added"), (cleared, Run(threads, true, false), "cleared"), (aliased, Run(threads, false, true), "aliased") })
            {
                BatchTrials.SameBits(expected.Dx, actual.Dx, $"{what} dx, {threads} threads");
                BatchTrials.SameBits(expected.Dw, actual.Dw, $"{what} dw, {threads} threads");
                BatchTrials.SameBits(expected.Db, actual.Db, $"{what} db, {threads} threads");
            }
        }
    }

    [Fact]
    public void Backward_OnTwoThreads_SameBits_AlsoNestedOrConcurrent()
    {
        // Two threads deal the row ranges from both ends with the column ranges between the halves: odd and even counts
        // of row ranges, a single short range, and calls made inside a parallel item or from several threads at once (the
        // pool busy: the runtime's pool runs the items in its own order) must give the one-thread bits.
        var random = new Random(41);
        foreach (var (rows, dim) in new[] { (17, 8), (300, 72), (2048, 64), (1, 5), (40, 33) })
        {
            float[] R(int n) => [.. Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2) - 1))];
            var (x, w, b, dout) = (R(rows * dim), R(dim), R(dim), R(rows * dim));
            var (mean, rstd) = (new float[rows], new float[rows]);
            LayerNorm.Forward(x, w, b, new float[rows * dim], mean, rstd, 1);
            float[] Run(int threads)
            {
                var (dx, dw, db) = (new float[rows * dim], new float[dim], new float[dim]);
                LayerNorm.Backward(dout, x, w, mean, rstd, dx, dw, db, threads);
                return [.. dx, .. dw, .. db];
            }

            var expected = Run(1);
            BatchTrials.SameBits(expected, Run(2), $"{rows} x {dim}, 2 threads");
            var nested = new float[4][];
            Xent.Kernels.ParallelWork.For(4, 2, i => nested[i] = Run(2));
            var concurrent = new float[6][];
            Parallel.For(0, 6, i => concurrent[i] = Run(2));
            foreach (var result in nested.Concat(concurrent))
            {
                BatchTrials.SameBits(expected, result, $"{rows} x {dim}, nested or concurrent");
            }
        }
    }

    /// <summary>
    /// The parameter gradients as LayerNorm defines their sums, one element at a time in float: each range of
    /// ParallelWork.Grain(N, 8) rows sums dout (x - mean) rstd and dout over its rows in row order from 0, and the
    /// ranges' sums are added in range order from 0.
    /// </summary>
    private static (float[] Dw, float[] Db) ParameterGradients(float[] dout, float[] x, float[] mean, float[] rstd, int rows, int dim)
    {
        int grain = Xent.Kernels.ParallelWork.Grain(rows, 8);
        var (dw, db) = (new float[dim], new float[dim]);
        for (int start = 0; start < rows; start += grain)
        {
            var (pw, pb) = (new float[dim], new float[dim]);
            for (int n = start; n < Math.Min(rows, start + grain); n++)
            {
                for (int i = 0; i < dim; i++)
                {
                    float d = dout[(n * dim) + i];
                    pw[i] += d * ((x[(n * dim) + i] - mean[n]) * rstd[n]);
                    pb[i] += d;
                }
            }

            for (int i = 0; i < dim; i++)
            {
                dw[i] += pw[i];
                db[i] += pb[i];
            }
        }

        return (dw, db);
    }

    /// <summary>
    /// Rows taken four at a time (LayerNormRows, where D is whole vectors of the width) give each row the bits it gets
    /// alone (a call of one row goes row by row through RowOps): D of 1-3 vectors at every width, 64 and 768, and D
    /// that take the row-by-row path; rows of -0, of equal values, of huge values, with inf and NaN; output over input;
    /// the backward added, cleared and over its upstream gradient.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void FourRowsAtATime_GiveEachRowItsBitsAlone(VectorWidth width)
    {
        var random = new Random(57);
        using var scope = Simd.Override(width);
        foreach (int dim in new[] { 4, 8, 16, 24, 32, 40, 48, 64, 72, 96, 768, 7, 33 })
        {
            int rows = 13;
            float[] R(int n) => [.. Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2) - 1))];
            var (x, w, b, dout) = (R(rows * dim), R(dim), R(dim), R(rows * dim));
            x.AsSpan(0, dim).Fill(-0f);
            x.AsSpan(dim, dim).Fill(3.25f);
            for (int i = 0; i < dim; i++)
            {
                x[(2 * dim) + i] *= 1e18f;
            }

            x[(5 * dim) + 1] = float.PositiveInfinity;
            x[(6 * dim) + 2] = float.NaN;
            dout.AsSpan(3 * dim, dim).Fill(-0f);
            b.AsSpan(0, dim / 2).Fill(-0f);

            var (output, mean, rstd) = (new float[rows * dim], new float[rows], new float[rows]);
            var (output1, mean1, rstd1) = (new float[rows * dim], new float[rows], new float[rows]);
            LayerNorm.Forward(x, w, b, output, mean, rstd, 1);
            for (int n = 0; n < rows; n++)
            {
                LayerNorm.Forward(x.AsSpan(n * dim, dim), w, b, output1.AsSpan(n * dim, dim), mean1.AsSpan(n, 1), rstd1.AsSpan(n, 1), 1);
            }

            BatchTrials.SameBits(output1, output, $"output, D {dim}");
            BatchTrials.SameBits(mean1, mean, $"mean, D {dim}");
            BatchTrials.SameBits(rstd1, rstd, $"rstd, D {dim}");
            var inPlace = (float[])x.Clone();
            LayerNorm.Forward(inPlace, w, b, inPlace, new float[rows], new float[rows], 1);
            BatchTrials.SameBits(output1, inPlace, $"output over input, D {dim}");

            foreach (var (clear, alias) in new[] { (false, false), (true, false), (false, true) })
            {
                var dx0 = R(rows * dim);
                var dx = (float[])dx0.Clone();
                var dx1 = (float[])dx0.Clone();
                var (dw, db) = (new float[dim], new float[dim]);
                LayerNorm.Backward(alias ? dx : dout, x, w, mean, rstd, dx, dw, db, 1, clear);
                var (dwExpected, dbExpected) = ParameterGradients(alias ? dx0 : dout, x, mean, rstd, rows, dim);
                BatchTrials.SameBits(dwExpected, dw, $"dw, D {dim}, clear {clear}, over its upstream {alias}");
                BatchTrials.SameBits(dbExpected, db, $"db, D {dim}, clear {clear}, over its upstream {alias}");
                for (int n = 0; n < rows; n++)
                {
                    var row = dx1.AsSpan(n * dim, dim);
                    ReadOnlySpan<float> upstream = alias ? row.ToArray() : dout.AsSpan(n * dim, dim);
                    LayerNorm.Backward(upstream, x.AsSpan(n * dim, dim), w, mean.AsSpan(n, 1), rstd.AsSpan(n, 1), row, new float[dim], new float[dim], 1, clear);
                }

                BatchTrials.SameBits(dx1, dx, $"dx, D {dim}, clear {clear}, over its upstream {alias}");
            }
        }
    }
}
