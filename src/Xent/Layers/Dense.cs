using System.Runtime.CompilerServices;
using Xent.Kernels;
using Xent.LinearAlgebra;

namespace Xent.Layers;

/// <summary>
/// Dense (fully connected, affine) layer y = x W^T + b with W [OC, C] (PyTorch nn.Linear layout), through
/// <see cref="MatMul.Gemm"/>. Results are bitwise the same for any thread count. Checked against a float64 GPT
/// (tests/Xent.Tests/Model/GptGradientTests.cs).
/// </summary>
public static unsafe class Dense
{
    /// <summary>
    /// output [N, OC] = input [N, C] W^T + bias [OC], plus residual [N, OC] when given (the residual stream add
    /// fused in, so a block's output needs no extra buffer).
    /// </summary>
    /// <param name="input">x [N, C], row-major.</param>
    /// <param name="weight">W [OC, C], row-major; its length must be a multiple of OC.</param>
    /// <param name="bias">b [OC]; its length is OC (at least 1).</param>
    /// <param name="residual">[N, OC] added to the output, or empty for none.</param>
    /// <param name="output">Destination [N, OC]; must not overlap the sources, but may be residual itself.</param>
    /// <param name="maxDegreeOfParallelism">Most threads; -1 for all cores.</param>
    /// <exception cref="ArgumentException">A length does not fit the shapes above, or output overlaps a source (other
    /// than being residual itself).</exception>
    public static void Forward(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        ReadOnlySpan<float> residual, Span<float> output, int maxDegreeOfParallelism = -1)
    {
        int outDim = bias.Length, inDim = LayerChecks.Rows(weight.Length, outDim, nameof(weight), "OC", nameof(bias));
        int rows = LayerChecks.Rows(input.Length, inDim, nameof(input), "C", nameof(weight));
        if (!residual.IsEmpty)
        {
            LayerChecks.Exactly(residual.Length, (long)rows * outDim, nameof(residual), "[N, OC]");
        }

        LayerChecks.AtLeast(output.Length, (long)rows * outDim, nameof(output), "[N, OC]");
        LayerChecks.Parallelism(maxDegreeOfParallelism);
        var written = output.Slice(0, rows * outDim);
        LayerChecks.Disjoint(written, nameof(output), input, nameof(input));
        LayerChecks.Disjoint(written, nameof(output), weight, nameof(weight));
        LayerChecks.Disjoint(written, nameof(output), bias, nameof(bias));
        LayerChecks.InPlaceOrDisjoint(written, nameof(output), residual, nameof(residual));
        fixed (float* pOutput = output, pBias = bias, pResidual = residual)
        {
            AddBias(pOutput, pBias, residual.IsEmpty ? null : pResidual, rows, outDim, maxDegreeOfParallelism);
        }

        MatMul.Gemm(false, true, rows, outDim, inDim, 1, input, inDim, weight, inDim, 1, output, outDim, maxDegreeOfParallelism);
    }

    /// <summary>
    /// From outputGradient [N, OC]: inputGradient [N, C] = dout W (overwritten, or added to when
    /// <paramref name="accumulate"/>), weightGradient [OC, C] = dout^T input and biasGradient [OC] = column sums of
    /// dout (both overwritten).
    /// </summary>
    /// <param name="outputGradient">dout = dL/d(output) [N, OC].</param>
    /// <param name="input">The forward's x [N, C].</param>
    /// <param name="weight">W [OC, C].</param>
    /// <param name="accumulate">Add dout W to inputGradient instead of overwriting it.</param>
    /// <param name="inputGradient">dL/dx [N, C].</param>
    /// <param name="weightGradient">dL/dW [OC, C], overwritten.</param>
    /// <param name="biasGradient">dL/db [OC], overwritten; its length is OC (at least 1).</param>
    /// <param name="maxDegreeOfParallelism">Most threads; -1 for all cores.</param>
    /// <exception cref="ArgumentException">A length does not fit the shapes above, or an output overlaps an input it
    /// is written before or while reading, or another output.</exception>
    public static void Backward(ReadOnlySpan<float> outputGradient, ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        bool accumulate, Span<float> inputGradient, Span<float> weightGradient, Span<float> biasGradient,
        int maxDegreeOfParallelism = -1)
    {
        int outDim = biasGradient.Length, inDim = LayerChecks.Rows(weight.Length, outDim, nameof(weight), "OC", nameof(biasGradient));
        int rows = LayerChecks.Rows(input.Length, inDim, nameof(input), "C", nameof(weight));
        LayerChecks.Exactly(outputGradient.Length, (long)rows * outDim, nameof(outputGradient), "[N, OC]");
        LayerChecks.AtLeast(inputGradient.Length, input.Length, nameof(inputGradient), "[N, C]");
        LayerChecks.AtLeast(weightGradient.Length, weight.Length, nameof(weightGradient), "[OC, C]");
        LayerChecks.Parallelism(maxDegreeOfParallelism);

        // dx is written while dout and W are read, and before x is read for dW; db is summed from dout last.
        var dx = inputGradient.Slice(0, input.Length);
        var dw = weightGradient.Slice(0, weight.Length);
        LayerChecks.Disjoint(dx, nameof(inputGradient), outputGradient, nameof(outputGradient));
        LayerChecks.Disjoint(dx, nameof(inputGradient), input, nameof(input));
        LayerChecks.Disjoint(dx, nameof(inputGradient), weight, nameof(weight));
        LayerChecks.Disjoint(dw, nameof(weightGradient), outputGradient, nameof(outputGradient));
        LayerChecks.Disjoint(dw, nameof(weightGradient), input, nameof(input));
        LayerChecks.Disjoint(dw, nameof(weightGradient), dx, nameof(inputGradient));
        LayerChecks.Disjoint(biasGradient, nameof(biasGradient), outputGradient, nameof(outputGradient));
        LayerChecks.Disjoint(biasGradient, nameof(biasGradient), dx, nameof(inputGradient));
        LayerChecks.Disjoint(biasGradient, nameof(biasGradient), dw, nameof(weightGradient));
        MatMul.Gemm(false, false, rows, inDim, outDim, 1, outputGradient, outDim, weight, inDim, accumulate ? 1 : 0,
            inputGradient, inDim, maxDegreeOfParallelism);
        MatMul.Gemm(true, false, outDim, inDim, rows, 1, outputGradient, outDim, input, inDim, 0, weightGradient, inDim, maxDegreeOfParallelism);
        fixed (float* pSums = biasGradient, pMatrix = outputGradient)
        {
            ColumnSums(pSums, pMatrix, rows, outDim, maxDegreeOfParallelism);
        }
    }

    /// <summary>Each row of output [N, OC] = bias [OC], or residual + 1 * bias (the same as residual + bias, element by element).</summary>
    private static void AddBias(float* output, float* bias, float* residual, int rows, int outDim, int maxDegreeOfParallelism) =>
        ParallelWork.ForRanges(rows, ParallelWork.Grain(rows, 8), maxDegreeOfParallelism, new BiasRows(output, bias, residual, outDim, Simd.Width));

    private readonly struct BiasRows(float* output, float* bias, float* residual, int outDim, VectorWidth width) : IWorkRanges
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int start, int end)
        {
            var b = new ReadOnlySpan<float>(bias, outDim);
            for (int n = start; n < end; n++)
            {
                var o = new Span<float>(output + ((long)n * outDim), outDim);
                if (residual == null)
                {
                    b.CopyTo(o);
                }
                else
                {
                    new ReadOnlySpan<float>(residual + ((long)n * outDim), outDim).CopyTo(o);
                    SpanMath.Axpy(1, b, o, width);
                }
            }
        }
    }

    /// <summary>
    /// sums [OC] = sum over rows of matrix [N, OC], in row order: ranges of 16 columns or more, each summed in
    /// registers over the rows and stored once (so even OC = 64 splits over threads, and no two threads store to
    /// one cache line row after row).
    /// </summary>
    private static void ColumnSums(float* sums, float* matrix, int rows, int cols, int maxDegreeOfParallelism) =>
        ParallelWork.ForRanges(cols, ParallelWork.Grain(cols, 16), maxDegreeOfParallelism, new ColumnRanges(sums, matrix, rows, cols, Simd.Width));

    private readonly struct ColumnRanges(float* sums, float* matrix, int rows, int cols, VectorWidth width) : IWorkRanges
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int start, int end) =>
            SpanMath.ColumnSums(new ReadOnlySpan<float>(matrix + start, rows == 0 ? 0 : ((rows - 1) * cols) + end - start), rows, cols,
                new Span<float>(sums + start, end - start), width);
    }
}
