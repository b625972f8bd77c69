using Xent.LinearAlgebra;

namespace Xent.Training.Model;

/// <summary>
/// Causal multi-head self-attention on a fused qkv [B*T, 3D] (row n holds q | k | v, head h at columns
/// h*hs .. h*hs+hs-1 of each third). One (b, h) pair is one independent work item: its score matrix
/// S = Q K^T / sqrt(hs) [T, T] and output Y = softmax(S) V [T, hs] are small matrix products through
/// <see cref="MatMul.Gemm"/> with row strides 3D / D, so no head is copied out.
/// </summary>
internal static class Attention
{
    /// <summary>
    /// output [B*T, D] (head h in columns h*hs..) and att [B, H, T, T] (softmax probabilities, 0 above the
    /// diagonal) from qkv [B*T, 3D].
    /// </summary>
    public static void Forward(float[] output, float[] att, float[] qkv, int batch, int seq, int dim, int heads,
        int maxDegreeOfParallelism)
    {
        int hs = dim / heads, qkvDim = 3 * dim;
        float scale = 1 / MathF.Sqrt(hs);
        Partition.For(batch * heads, 1, maxDegreeOfParallelism, (start, end) =>
        {
            for (int bh = start; bh < end; bh++)
            {
                int b = bh / heads, h = bh % heads;
                int qOffset = (b * seq * qkvDim) + (h * hs);
                var q = qkv.AsSpan(qOffset);
                var k = qkv.AsSpan(qOffset + dim);
                var v = qkv.AsSpan(qOffset + (2 * dim));
                var p = att.AsSpan(bh * seq * seq, seq * seq);
                MatMul.Gemm(false, true, seq, seq, hs, scale, q, qkvDim, k, qkvDim, 0, p, seq, 1);
                for (int t = 0; t < seq; t++)
                {
                    CausalSoftmax(p.Slice(t * seq, seq), t);
                }

                MatMul.Gemm(false, false, seq, hs, seq, 1, p, seq, v, qkvDim, 0,
                    output.AsSpan((b * seq * dim) + (h * hs)), dim, 1);
            }
        });
    }

    /// <summary>
    /// dqkv [B*T, 3D] (overwritten) from dout [B*T, D], the forward's qkv and att. Uses one [T, T] scratch per thread.
    /// </summary>
    public static void Backward(float[] dqkv, float[] dout, float[] qkv, float[] att, int batch, int seq, int dim,
        int heads, int maxDegreeOfParallelism)
    {
        int hs = dim / heads, qkvDim = 3 * dim;
        float scale = 1 / MathF.Sqrt(hs);
        Partition.For(batch * heads, 1, maxDegreeOfParallelism, (start, end) =>
        {
            var dp = Scratch(seq * seq);
            for (int bh = start; bh < end; bh++)
            {
                int b = bh / heads, h = bh % heads;
                int qOffset = (b * seq * qkvDim) + (h * hs);
                var q = qkv.AsSpan(qOffset);
                var k = qkv.AsSpan(qOffset + dim);
                var v = qkv.AsSpan(qOffset + (2 * dim));
                var dq = dqkv.AsSpan(qOffset);
                var dk = dqkv.AsSpan(qOffset + dim);
                var dv = dqkv.AsSpan(qOffset + (2 * dim));
                var dy = dout.AsSpan((b * seq * dim) + (h * hs));
                var p = att.AsSpan(bh * seq * seq, seq * seq);

                // dP = dY V^T [T, T]; dV = P^T dY [T, hs].
                MatMul.Gemm(false, true, seq, seq, hs, 1, dy, dim, v, qkvDim, 0, dp, seq, 1);
                MatMul.Gemm(true, false, seq, hs, seq, 1, p, seq, dy, dim, 0, dv, qkvDim, 1);

                // Softmax backward, with the 1/sqrt(hs) of the scores folded in: dS = scale * P (dP - rowsum(P dP)).
                for (int t = 0; t < seq; t++)
                {
                    var pr = p.Slice(t * seq, t + 1);
                    var dr = dp.AsSpan(t * seq, seq);
                    float dot = 0;
                    for (int j = 0; j <= t; j++)
                    {
                        dot += pr[j] * dr[j];
                    }

                    for (int j = 0; j <= t; j++)
                    {
                        dr[j] = scale * pr[j] * (dr[j] - dot);
                    }

                    dr.Slice(t + 1).Clear();
                }

                // dQ = dS K, dK = dS^T Q [T, hs].
                MatMul.Gemm(false, false, seq, hs, seq, 1, dp, seq, k, qkvDim, 0, dq, qkvDim, 1);
                MatMul.Gemm(true, false, seq, hs, seq, 1, dp, seq, q, qkvDim, 0, dk, qkvDim, 1);
            }
        });
    }

    [ThreadStatic]
    private static float[]? scratch;

    /// <summary>A [T, T] buffer owned by the calling thread, reused across steps (no per-step allocation).</summary>
    private static float[] Scratch(int length)
    {
        if (scratch is null || scratch.Length < length)
        {
            scratch = new float[length];
        }

        return scratch;
    }

    /// <summary>Softmax of row[0..t] in place; entries after t (future positions) become 0.</summary>
    private static void CausalSoftmax(Span<float> row, int t)
    {
        float max = float.NegativeInfinity;
        for (int j = 0; j <= t; j++)
        {
            max = MathF.Max(max, row[j]);
        }

        float sum = 0;
        for (int j = 0; j <= t; j++)
        {
            float e = MathF.Exp(row[j] - max);
            row[j] = e;
            sum += e;
        }

        float inv = 1 / sum;
        for (int j = 0; j <= t; j++)
        {
            row[j] *= inv;
        }

        row.Slice(t + 1).Clear();
    }
}
