using System.Runtime.CompilerServices;
using Xent.Kernels;
using Xent.LinearAlgebra;

namespace Xent.Layers;

/// <summary>Dense (fully connected, affine) layer y = x W^T + b with W [OC, C] (PyTorch nn.Linear layout), through <see cref="MatMul.Gemm"/>.</summary>
internal static class Dense
{
    /// <summary>
    /// output [N, OC] = input [N, C] W^T + bias [OC], plus residual [N, OC] when given (the residual stream add
    /// fused in, so the block output needs no extra buffer).
    /// </summary>
    public static void Forward(float[] output, float[] input, float[] weight, float[] bias, float[]? residual,
        int rows, int inDim, int outDim, int maxDegreeOfParallelism)
    {
        var width = Simd.Width;
        ParallelWork.ForRanges(rows, ParallelWork.Grain(rows, 8), maxDegreeOfParallelism, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            for (int n = start; n < end; n++)
            {
                var o = output.AsSpan(n * outDim, outDim);
                if (residual is null)
                {
                    bias.AsSpan(0, outDim).CopyTo(o);
                }
                else
                {
                    // o = r + 1 * b: the same as r + b, element by element.
                    residual.AsSpan(n * outDim, outDim).CopyTo(o);
                    SpanMath.Axpy(1, bias.AsSpan(0, outDim), o, width);
                }
            }
        });
        MatMul.Gemm(false, true, rows, outDim, inDim, 1, input, inDim, weight, inDim, 1, output, outDim, maxDegreeOfParallelism);
    }

    /// <summary>
    /// From dout [N, OC]: dinput [N, C] = dout W (overwritten, or added when <paramref name="accumulateInput"/>),
    /// dweight [OC, C] = dout^T input and dbias [OC] = column sums of dout (both overwritten).
    /// </summary>
    public static void Backward(float[] dinput, float[] dweight, float[] dbias, float[] dout, float[] input,
        float[] weight, int rows, int inDim, int outDim, bool accumulateInput, int maxDegreeOfParallelism)
    {
        MatMul.Gemm(false, false, rows, inDim, outDim, 1, dout, outDim, weight, inDim, accumulateInput ? 1 : 0,
            dinput, inDim, maxDegreeOfParallelism);
        MatMul.Gemm(true, false, outDim, inDim, rows, 1, dout, outDim, input, inDim, 0, dweight, inDim, maxDegreeOfParallelism);
        ColumnSums(dbias, dout, rows, outDim, maxDegreeOfParallelism);
    }

    /// <summary>sums [OC] = sum over rows of matrix [N, OC], in row order.</summary>
    public static void ColumnSums(float[] sums, float[] matrix, int rows, int cols, int maxDegreeOfParallelism)
    {
        var width = Simd.Width;
        ParallelWork.ForRanges(cols, ParallelWork.Grain(cols, 64), maxDegreeOfParallelism, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            var s = sums.AsSpan(start, end - start);
            s.Clear();
            for (int n = 0; n < rows; n++)
            {
                // y += 1 * x is exactly y += x.
                SpanMath.Axpy(1, matrix.AsSpan((n * cols) + start, end - start), s, width);
            }
        });
    }
}
