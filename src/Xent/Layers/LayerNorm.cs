using System.Runtime.CompilerServices;
using Xent.Kernels;
using Xent.LinearAlgebra;

namespace Xent.Layers;

/// <summary>LayerNorm over the last dimension D, eps 1e-5 (PyTorch and GPT-2's value), biased variance.</summary>
internal static class LayerNorm
{
    public const float Epsilon = 1e-5f;

    /// <summary>
    /// output [N, D] = (x - mean) * rstd * weight + bias, per row of input [N, D]; keeps mean [N] and rstd [N]
    /// for the backward.
    /// </summary>
    public static void Forward(float[] output, float[] mean, float[] rstd, float[] input, float[] weight, float[] bias,
        int rows, int dim, int maxDegreeOfParallelism)
    {
        var width = Simd.Width;
        ParallelWork.ForRanges(rows, ParallelWork.Grain(rows, 8), maxDegreeOfParallelism, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            for (int n = start; n < end; n++)
            {
                var x = input.AsSpan(n * dim, dim);
                float m = RowOps.SumAndDot(x, x, 0, width).Sum / dim;
                float s = 1 / MathF.Sqrt((RowOps.SumOfSquares(x, m, width) / dim) + Epsilon);
                RowOps.Normalize(x, m, s, weight.AsSpan(0, dim), bias.AsSpan(0, dim), output.AsSpan(n * dim, dim), width);
                mean[n] = m;
                rstd[n] = s;
            }
        });
    }

    /// <summary>
    /// dinput [N, D] += gradient through the normalisation; dweight [D] and dbias [D] are OVERWRITTEN with the sums
    /// over the N rows of dout * xhat and dout. With g = weight * dout and xhat = (x - mean) rstd:
    /// dx = (g - mean(g) - xhat mean(g xhat)) rstd.
    /// </summary>
    public static void Backward(float[] dinput, float[] dweight, float[] dbias, float[] dout, float[] input,
        float[] weight, float[] mean, float[] rstd, int rows, int dim, int maxDegreeOfParallelism)
    {
        var width = Simd.Width;
        ParallelWork.ForRanges(rows, ParallelWork.Grain(rows, 8), maxDegreeOfParallelism, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            var g = RowScratch(dim);
            for (int n = start; n < end; n++)
            {
                var x = input.AsSpan(n * dim, dim);
                float m = mean[n], s = rstd[n];
                RowOps.Multiply(dout.AsSpan(n * dim, dim), weight.AsSpan(0, dim), g, width);
                var (sum, centeredDot) = RowOps.SumAndDot(g, x, m, width);
                RowOps.LayerNormInputGradient(g, x, m, s, sum / dim, centeredDot * s / dim, dinput.AsSpan(n * dim, dim), width);
            }
        });

        // Column sums in row order, one column range per chunk: reproducible for any thread count.
        ParallelWork.ForRanges(dim, ParallelWork.Grain(dim, 16), maxDegreeOfParallelism, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            var dw = dweight.AsSpan(start, end - start);
            var db = dbias.AsSpan(start, end - start);
            dw.Clear();
            db.Clear();
            for (int n = 0; n < rows; n++)
            {
                int row = (n * dim) + start;
                RowOps.LayerNormParameterGradient(dout.AsSpan(row, end - start), input.AsSpan(row, end - start), mean[n], rstd[n],
                    dw, db, width);
            }
        });
    }

    /// <summary>A [D] buffer owned by the calling thread.</summary>
    private static Span<float> RowScratch(int dim) => Workspace.Current.Get<float>(WorkspaceSlot.ModelRows, dim);
}
