using System.Runtime.CompilerServices;

namespace Xent.Training.Model;

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
        Partition.For(rows, Partition.Grain(rows, 8), maxDegreeOfParallelism, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            for (int n = start; n < end; n++)
            {
                var x = input.AsSpan(n * dim, dim);
                var o = output.AsSpan(n * dim, dim);
                float m = 0;
                for (int i = 0; i < dim; i++)
                {
                    m += x[i];
                }

                m /= dim;
                float v = 0;
                for (int i = 0; i < dim; i++)
                {
                    float c = x[i] - m;
                    v += c * c;
                }

                float s = 1 / MathF.Sqrt((v / dim) + Epsilon);
                for (int i = 0; i < dim; i++)
                {
                    o[i] = ((x[i] - m) * s * weight[i]) + bias[i];
                }

                mean[n] = m;
                rstd[n] = s;
            }
        });
    }

    /// <summary>
    /// dinput [N, D] += gradient through the normalisation; dweight [D] and dbias [D] are OVERWRITTEN with the sums
    /// over the N rows of dout * xhat and dout.
    /// </summary>
    public static void Backward(float[] dinput, float[] dweight, float[] dbias, float[] dout, float[] input,
        float[] weight, float[] mean, float[] rstd, int rows, int dim, int maxDegreeOfParallelism)
    {
        Partition.For(rows, Partition.Grain(rows, 8), maxDegreeOfParallelism, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            for (int n = start; n < end; n++)
            {
                var x = input.AsSpan(n * dim, dim);
                var dy = dout.AsSpan(n * dim, dim);
                var dx = dinput.AsSpan(n * dim, dim);
                float m = mean[n], s = rstd[n];
                float meanDNorm = 0, meanDNormXhat = 0;
                for (int i = 0; i < dim; i++)
                {
                    float dnorm = weight[i] * dy[i];
                    meanDNorm += dnorm;
                    meanDNormXhat += dnorm * (x[i] - m) * s;
                }

                meanDNorm /= dim;
                meanDNormXhat /= dim;
                for (int i = 0; i < dim; i++)
                {
                    float xhat = (x[i] - m) * s;
                    float dnorm = weight[i] * dy[i];
                    dx[i] += (dnorm - meanDNorm - (xhat * meanDNormXhat)) * s;
                }
            }
        });

        // Column sums in row order, one column range per chunk: reproducible for any thread count.
        Partition.For(dim, Partition.Grain(dim, 16), maxDegreeOfParallelism, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            dweight.AsSpan(start, end - start).Clear();
            dbias.AsSpan(start, end - start).Clear();
            for (int n = 0; n < rows; n++)
            {
                float m = mean[n], s = rstd[n];
                int row = n * dim;
                for (int i = start; i < end; i++)
                {
                    float dy = dout[row + i];
                    dweight[i] += dy * (input[row + i] - m) * s;
                    dbias[i] += dy;
                }
            }
        });
    }
}
