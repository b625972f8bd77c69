using System.Runtime.CompilerServices;
using Xent.Kernels;
using Xent.LinearAlgebra;

namespace Xent.Layers;

/// <summary>
/// LayerNorm over the last dimension D, eps 1e-5 (PyTorch and GPT-2's value), biased variance: per row,
/// output = (x - mean) * rstd * weight + bias with rstd = 1 / sqrt(var + eps). Rows are split over threads and
/// each row's sums run in a fixed order, so results are bitwise the same for any thread count. Float64 reference and
/// finite-difference check of the backward: tests/Xent.Tests/Layers/LayerNormTests.cs.
/// </summary>
public static unsafe class LayerNorm
{
    /// <summary>The epsilon added to the variance, 1e-5.</summary>
    public const float Epsilon = 1e-5f;

    /// <summary>
    /// output [N, D] = (x - mean) * rstd * weight + bias, per row of input [N, D]; keeps mean [N] and rstd [N]
    /// for the backward.
    /// </summary>
    /// <param name="input">x [N, D], row-major.</param>
    /// <param name="weight">Gain [D]; its length is D (at least 1).</param>
    /// <param name="bias">Bias [D].</param>
    /// <param name="output">Destination [N, D]; may be input itself.</param>
    /// <param name="mean">Destination [N]: each row's mean.</param>
    /// <param name="rstd">Destination [N]: each row's 1 / sqrt(var + eps).</param>
    /// <param name="maxDegreeOfParallelism">Most threads; -1 for all cores.</param>
    /// <exception cref="ArgumentException">A length does not fit the shapes above (input's length must be a multiple of D),
    /// or the output partly overlaps the input (in place is allowed) or overlaps the weight or bias, or mean or rstd
    /// overlaps an input, the output or each other.</exception>
    public static void Forward(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        Span<float> output, Span<float> mean, Span<float> rstd, int maxDegreeOfParallelism = -1)
    {
        int dim = weight.Length, rows = LayerChecks.Rows(input.Length, dim, nameof(input), "D", nameof(weight));
        LayerChecks.Exactly(bias.Length, dim, nameof(bias), "[D]");
        LayerChecks.AtLeast(output.Length, input.Length, nameof(output), "[N, D]");
        LayerChecks.AtLeast(mean.Length, rows, nameof(mean), "[N]");
        LayerChecks.AtLeast(rstd.Length, rows, nameof(rstd), "[N]");
        LayerChecks.Parallelism(maxDegreeOfParallelism);

        // Row by row, the output and then the statistics are written while later rows, the weight and the bias are
        // still to be read. An output shifted over the input would overwrite elements of its own or a later row before
        // they are read (off by up to 40 when this was allowed).
        var y = output.Slice(0, input.Length);
        var mu = mean.Slice(0, rows);
        var rs = rstd.Slice(0, rows);
        LayerChecks.InPlaceOrDisjoint(y, nameof(output), input, nameof(input));
        LayerChecks.Disjoint(y, nameof(output), weight, nameof(weight));
        LayerChecks.Disjoint(y, nameof(output), bias, nameof(bias));
        LayerChecks.Disjoint(mu, nameof(mean), input, nameof(input));
        LayerChecks.Disjoint(mu, nameof(mean), weight, nameof(weight));
        LayerChecks.Disjoint(mu, nameof(mean), bias, nameof(bias));
        LayerChecks.Disjoint(mu, nameof(mean), y, nameof(output));
        LayerChecks.Disjoint(rs, nameof(rstd), input, nameof(input));
        LayerChecks.Disjoint(rs, nameof(rstd), weight, nameof(weight));
        LayerChecks.Disjoint(rs, nameof(rstd), bias, nameof(bias));
        LayerChecks.Disjoint(rs, nameof(rstd), y, nameof(output));
        LayerChecks.Disjoint(rs, nameof(rstd), mu, nameof(mean));
        fixed (float* pOutput = output, pMean = mean, pRstd = rstd, pInput = input, pWeight = weight, pBias = bias)
        {
            Forward(pOutput, pMean, pRstd, pInput, pWeight, pBias, rows, dim, maxDegreeOfParallelism);
        }
    }

    /// <summary>
    /// The backward of <see cref="Forward(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, Span{float}, int)"/>:
    /// inputGradient [N, D] += the gradient through the normalisation; weightGradient [D] and biasGradient [D] are
    /// OVERWRITTEN with the sums over the N rows of dout * xhat and dout (each range of rows summed in row order, then
    /// the ranges' sums in order; the ranges depend on N only). With g = weight * dout and
    /// xhat = (x - mean) rstd: dx = (g - mean(g) - xhat mean(g xhat)) rstd. inputGradient may be outputGradient itself.
    /// </summary>
    /// <param name="outputGradient">dout = dL/d(output) [N, D].</param>
    /// <param name="input">The forward's x [N, D].</param>
    /// <param name="weight">Gain [D]; its length is D.</param>
    /// <param name="mean">The forward's mean [N].</param>
    /// <param name="rstd">The forward's rstd [N].</param>
    /// <param name="inputGradient">dL/dx [N, D], ADDED to (a residual stream's gradient accumulates here).</param>
    /// <param name="weightGradient">dL/dweight [D], overwritten.</param>
    /// <param name="biasGradient">dL/dbias [D], overwritten.</param>
    /// <param name="maxDegreeOfParallelism">Most threads; -1 for all cores.</param>
    /// <exception cref="ArgumentException">A length does not fit the shapes above, or inputGradient partly overlaps
    /// outputGradient or the input (either itself is allowed) or overlaps the weight, mean or rstd, or a parameter gradient
    /// overlaps inputGradient or the other.</exception>
    public static void Backward(ReadOnlySpan<float> outputGradient, ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> rstd, Span<float> inputGradient, Span<float> weightGradient,
        Span<float> biasGradient, int maxDegreeOfParallelism = -1) =>
        Backward(outputGradient, input, weight, mean, rstd, inputGradient, weightGradient, biasGradient, maxDegreeOfParallelism, false);

    /// <summary>
    /// The public backward, or with <paramref name="clearInputGradient"/> the same bits as clearing the first N rows of
    /// inputGradient and then calling it: each row is cleared just before its gradient is added (no separate pass).
    /// </summary>
    internal static void Backward(ReadOnlySpan<float> outputGradient, ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> rstd, Span<float> inputGradient, Span<float> weightGradient,
        Span<float> biasGradient, int maxDegreeOfParallelism, bool clearInputGradient)
    {
        int dim = weight.Length, rows = LayerChecks.Rows(input.Length, dim, nameof(input), "D", nameof(weight));
        LayerChecks.Exactly(outputGradient.Length, input.Length, nameof(outputGradient), "[N, D]");
        LayerChecks.Exactly(mean.Length, rows, nameof(mean), "[N]");
        LayerChecks.Exactly(rstd.Length, rows, nameof(rstd), "[N]");
        LayerChecks.AtLeast(inputGradient.Length, input.Length, nameof(inputGradient), "[N, D]");
        LayerChecks.AtLeast(weightGradient.Length, dim, nameof(weightGradient), "[D]");
        LayerChecks.AtLeast(biasGradient.Length, dim, nameof(biasGradient), "[D]");
        LayerChecks.Parallelism(maxDegreeOfParallelism);

        // dx is written row by row while the weight and statistics are still read, and each row of dout and the input
        // is read before that row of dx is written (so dx may be either); shifted over them, it would overwrite rows
        // before they are read. The parameter gradients are written last, one after the other.
        var dx = inputGradient.Slice(0, input.Length);
        var dw = weightGradient.Slice(0, dim);
        LayerChecks.InPlaceOrDisjoint(dx, nameof(inputGradient), outputGradient, nameof(outputGradient));
        LayerChecks.InPlaceOrDisjoint(dx, nameof(inputGradient), input, nameof(input));
        LayerChecks.Disjoint(dx, nameof(inputGradient), weight, nameof(weight));
        LayerChecks.Disjoint(dx, nameof(inputGradient), mean, nameof(mean));
        LayerChecks.Disjoint(dx, nameof(inputGradient), rstd, nameof(rstd));
        LayerChecks.Disjoint(dw, nameof(weightGradient), dx, nameof(inputGradient));
        LayerChecks.Disjoint(biasGradient.Slice(0, dim), nameof(biasGradient), dx, nameof(inputGradient));
        LayerChecks.Disjoint(biasGradient.Slice(0, dim), nameof(biasGradient), dw, nameof(weightGradient));
        fixed (float* pDinput = inputGradient, pDweight = weightGradient, pDbias = biasGradient, pDout = outputGradient,
            pInput = input, pWeight = weight, pMean = mean, pRstd = rstd)
        {
            Backward(pDinput, pDweight, pDbias, pDout, pInput, pWeight, pMean, pRstd, rows, dim, maxDegreeOfParallelism, clearInputGradient);
        }
    }

    private static void Forward(float* output, float* mean, float* rstd, float* input, float* weight, float* bias,
        int rows, int dim, int maxDegreeOfParallelism) =>
        ParallelWork.ForRanges(rows, ParallelWork.Grain(rows, 8), maxDegreeOfParallelism,
            new ForwardRows(output, mean, rstd, input, weight, bias, dim, Simd.Width));

    private readonly struct ForwardRows(float* output, float* mean, float* rstd, float* input, float* weight, float* bias, int dim,
        VectorWidth width) : IWorkRanges
    {
        private readonly VectorWidth four = LayerNormRows.For(width, dim);

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int start, int end)
        {
            int n = start;
            if (four != VectorWidth.Scalar)
            {
                for (; n + LayerNormRows.Rows <= end; n += LayerNormRows.Rows)
                {
                    long at = (long)n * dim;
                    LayerNormRows.Forward(four, input + at, output + at, weight, bias, dim, mean + n, rstd + n);
                }
            }

            for (; n < end; n++)
            {
                var x = new ReadOnlySpan<float>(input + ((long)n * dim), dim);
                float m = RowOps.SumAndDot(x, x, 0, width).Sum / dim;
                float s = 1 / MathF.Sqrt((RowOps.SumOfSquares(x, m, width) / dim) + Epsilon);
                RowOps.Normalize(x, m, s, new ReadOnlySpan<float>(weight, dim), new ReadOnlySpan<float>(bias, dim),
                    new Span<float>(output + ((long)n * dim), dim), width);
                mean[n] = m;
                rstd[n] = s;
            }
        }
    }

    private static void Backward(float* dinput, float* dweight, float* dbias, float* dout, float* input,
        float* weight, float* mean, float* rstd, int rows, int dim, int maxDegreeOfParallelism, bool clearInputGradient)
    {
        var width = Simd.Width;
        var four = dinput != input ? LayerNormRows.For(width, dim) : VectorWidth.Scalar;
        // The parameter gradients sum in two levels: each range of rowGrain rows sums its rows, in row order, into a
        // partial of its own as it computes their input gradients (each row read once, and before dx overwrites dout
        // where the caller aliases them), and the partials are added in range order at the end. The ranges depend on
        // N only: the same bits for any thread count. (One sum down all N rows, as before, was an item of its own that
        // read every row a second time, half of them from the other core's cache: on 2 threads LayerNorm's backward
        // took as long as on one.)
        int rowGrain = ParallelWork.Grain(rows, 8), ranges = (rows + rowGrain - 1) / rowGrain;
        // Each range's partial sums [D] of dw, then of db: native memory for the call.
        float* pw = (float*)ScratchMemory.Allocate(Math.Max(1, 2L * ranges * dim * sizeof(float))), pb = pw + ((long)ranges * dim);
        try
        {
            ParallelWork.For(ranges, maxDegreeOfParallelism, new BackwardRanges(dinput, dout, input, weight, mean, rstd, rows, dim, rowGrain, pw, pb, width, four, clearInputGradient), ends: ParallelWork.Ends);
            AddInOrder(pw, ranges, dim, dweight);
            AddInOrder(pb, ranges, dim, dbias);
        }
        finally
        {
            ScratchMemory.Free(pw);
        }
    }

    /// <summary>sums [D] = the [ranges, D] partials added in range order from 0 (each element alone: any width, the same bits).</summary>
    private static void AddInOrder(float* partials, int ranges, int dim, float* sums)
    {
        var total = new Span<float>(sums, dim);
        total.Clear();
        for (int r = 0; r < ranges; r++)
        {
            Elementwise.Add(total, new ReadOnlySpan<float>(partials + ((long)r * dim), dim), total);
        }
    }

    /// <summary>A [D] buffer owned by the calling thread.</summary>
    private static Span<float> RowScratch(int dim) => Workspace.Current.Get<float>(WorkspaceSlot.ModelRows, dim);

    private readonly struct BackwardRanges(float* dinput, float* dout, float* input, float* weight, float* mean, float* rstd, int rows, int dim,
        int rowGrain, float* pw, float* pb, VectorWidth width, VectorWidth four, bool clearInputGradient) : IWorkItems
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int r)
        {
            int start = r * rowGrain;
            float* dw = pw + ((long)r * dim), db = pb + ((long)r * dim);
            new Span<float>(dw, dim).Clear();
            new Span<float>(db, dim).Clear();
            InputRows(start, Math.Min(rows, start + rowGrain), dw, db);
        }

        // Rows start .. end - 1: their terms of the parameter gradients added to the partial sums dw [D] and db [D] in row
        // order, each row's read before its input gradient is written (dx may be dout itself), then the input gradients.
        [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
        private void InputRows(int start, int end, float* dw, float* db)
        {
            int n = start;
            if (four != VectorWidth.Scalar)
            {
                fixed (float* g4 = RowScratch(LayerNormRows.Rows * dim))
                {
                    for (; n + LayerNormRows.Rows <= end; n += LayerNormRows.Rows)
                    {
                        long at = (long)n * dim;
                        LayerNormRows.AddParameterTerms(four, dout + at, input + at, mean + n, rstd + n, dw, db, dim);
                        LayerNormRows.InputGradient(four, dout + at, input + at, weight, mean + n, rstd + n, dinput + at, g4, dim, clearInputGradient);
                    }
                }
            }

            if (n < end)
            {
                long at = (long)n * dim, span = ((long)(end - n - 1) * dim) + dim;
                RowOps.AddLayerNormParameterTerms(new ReadOnlySpan<float>(dout + at, (int)span), new ReadOnlySpan<float>(input + at, (int)span),
                    end - n, dim, new ReadOnlySpan<float>(mean + n, end - n), new ReadOnlySpan<float>(rstd + n, end - n),
                    new Span<float>(dw, dim), new Span<float>(db, dim), width);
            }

            var g = RowScratch(dim);
            for (; n < end; n++)
            {
                var x = new ReadOnlySpan<float>(input + ((long)n * dim), dim);
                var dx = new Span<float>(dinput + ((long)n * dim), dim);
                if (clearInputGradient)
                {
                    dx.Clear();
                }

                float m = mean[n], s = rstd[n];
                RowOps.Multiply(new ReadOnlySpan<float>(dout + ((long)n * dim), dim), new ReadOnlySpan<float>(weight, dim), g, width);
                var (sum, centeredDot) = RowOps.SumAndDot(g, x, m, width);
                RowOps.LayerNormInputGradient(g, x, m, s, sum / dim, centeredDot * s / dim, dx, width);
            }
        }
    }
}
