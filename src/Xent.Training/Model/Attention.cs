using System.Runtime.CompilerServices;

namespace Xent.Training.Model;

/// <summary>
/// Causal multi-head self-attention on a fused qkv [B*T, 3D] (row n holds q | k | v; head h uses columns
/// h*hs .. h*hs+hs-1 of each third). One (b, h) pair is one independent work item. Scores, softmax and the
/// weighted sums run over the causal half only (t2 &lt;= t) with vectorised head-size dot products and axpys:
/// for the small head sizes of this model that beats calling a packed matrix kernel per head.
/// </summary>
internal static class Attention
{
    [ThreadStatic]
    private static float[]? scratch;

    /// <summary>
    /// output [B*T, D] (head h in columns h*hs..) and att [B, H, T, T] (softmax probabilities of row t over
    /// t2 &lt;= t; 0 above the diagonal) from qkv [B*T, 3D].
    /// </summary>
    public static void Forward(float[] output, float[] att, float[] qkv, int batch, int seq, int dim, int heads,
        int maxDegreeOfParallelism)
    {
        int hs = dim / heads, qkvDim = 3 * dim;
        float scale = 1 / MathF.Sqrt(hs);
        var width = Simd.Width;
        Partition.For(batch * heads, 1, maxDegreeOfParallelism, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            var kt = Scratch(hs * seq).AsSpan(0, hs * seq);
            for (int bh = start; bh < end; bh++)
            {
                int b = bh / heads, h = bh % heads;
                int rowBase = b * seq;
                Transpose(kt, qkv, ((rowBase * qkvDim) + dim) + (h * hs), qkvDim, seq, hs);
                for (int t = 0; t < seq; t++)
                {
                    // Scores of row t against keys 0..t (and a few masked ones up to a whole vector): q K^T with
                    // K^T's rows contiguous, one register per group of keys.
                    var q = qkv.AsSpan(((rowBase + t) * qkvDim) + (h * hs), hs);
                    var p = att.AsSpan((bh * seq * seq) + (t * seq), seq);
                    VectorOps.RowTimesMatrix(scale, q, kt, seq, p.Slice(0, WholeVectors(t, seq, width)), width);
                    CausalSoftmax(p, t, width);
                    var y = output.AsSpan(((rowBase + t) * dim) + (h * hs), hs);
                    VectorOps.WeightedRowSum(p.Slice(0, t + 1), qkv.AsSpan((rowBase * qkvDim) + (2 * dim) + (h * hs)), qkvDim, y, width);
                }
            }
        });
    }

    /// <summary>
    /// dqkv [B*T, 3D] (overwritten) from dout [B*T, D], the forward's qkv and att [B, H, T, T].
    /// With S = Q K^T / sqrt(hs) and P = softmax(S) per row: dP = dY V^T, dV = P^T dY,
    /// dS = P (dP - rowsum(P dP)), dQ = dS K / sqrt(hs), dK = dS^T Q / sqrt(hs).
    /// </summary>
    public static void Backward(float[] dqkv, float[] dout, float[] qkv, float[] att, int batch, int seq, int dim,
        int heads, int maxDegreeOfParallelism)
    {
        int hs = dim / heads, qkvDim = 3 * dim;
        float scale = 1 / MathF.Sqrt(hs);
        var width = Simd.Width;
        Partition.For(batch * heads, 1, maxDegreeOfParallelism, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            var buffer = Scratch((hs + 1) * seq);
            var vt = buffer.AsSpan(0, hs * seq);
            var dp = buffer.AsSpan(hs * seq, seq);
            for (int bh = start; bh < end; bh++)
            {
                int b = bh / heads, h = bh % heads;
                int rowBase = b * seq;
                Transpose(vt, qkv, (rowBase * qkvDim) + (2 * dim) + (h * hs), qkvDim, seq, hs);
                for (int t = 0; t < seq; t++)
                {
                    int o = ((rowBase + t) * qkvDim) + (h * hs);
                    dqkv.AsSpan(o, hs).Clear();
                    dqkv.AsSpan(o + dim, hs).Clear();
                    dqkv.AsSpan(o + (2 * dim), hs).Clear();
                }

                // dK and dV of position t2 collect contributions from every t >= t2, in increasing t: fixed order.
                for (int t = 0; t < seq; t++)
                {
                    int qOffset = ((rowBase + t) * qkvDim) + (h * hs);
                    var q = qkv.AsSpan(qOffset, hs);
                    var dq = dqkv.AsSpan(qOffset, hs);
                    var dy = dout.AsSpan(((rowBase + t) * dim) + (h * hs), hs);
                    var p = att.AsSpan((bh * seq * seq) + (t * seq), t + 1);
                    // dP row t = dy V^T over keys 0..t (V^T rows contiguous); dV += p dy per key.
                    var dpRow = dp.Slice(0, t + 1);
                    VectorOps.RowTimesMatrix(1, dy, vt, seq, dp.Slice(0, WholeVectors(t, seq, width)), width);
                    float dot = 0;
                    for (int t2 = 0; t2 <= t; t2++)
                    {
                        int vOffset = ((rowBase + t2) * qkvDim) + (2 * dim) + (h * hs);
                        VectorOps.Axpy(p[t2], dy, dqkv.AsSpan(vOffset, hs), width);
                        dot += p[t2] * dpRow[t2];
                    }

                    for (int t2 = 0; t2 <= t; t2++)
                    {
                        float ds = scale * p[t2] * (dpRow[t2] - dot);
                        dpRow[t2] = ds;
                        VectorOps.Axpy(ds, q, dqkv.AsSpan(((rowBase + t2) * qkvDim) + dim + (h * hs), hs), width);
                    }

                    VectorOps.WeightedRowSum(dpRow, qkv.AsSpan((rowBase * qkvDim) + dim + (h * hs)), qkvDim, dq, width);
                }
            }
        });
    }

    /// <summary>t + 1 rounded up to whole vectors of the width, at most the row length.</summary>
    private static int WholeVectors(int t, int seq, VectorWidth width)
    {
        int lanes = width == VectorWidth.Scalar ? 1 : (int)width / 32;
        return Math.Min(seq, ((t + lanes) / lanes) * lanes);
    }

    /// <summary>destination [hs, T] = the head's [T, hs] slice of qkv starting at offset, with row stride 3D.</summary>
    private static void Transpose(Span<float> destination, float[] qkv, int offset, int stride, int seq, int hs)
    {
        for (int t = 0; t < seq; t++)
        {
            var row = qkv.AsSpan(offset + (t * stride), hs);
            for (int i = 0; i < hs; i++)
            {
                destination[(i * seq) + t] = row[i];
            }
        }
    }

    /// <summary>A buffer owned by the calling thread, reused across steps (no per-step allocation).</summary>
    private static float[] Scratch(int length)
    {
        if (scratch is null || scratch.Length < length)
        {
            scratch = new float[length];
        }

        return scratch;
    }

    /// <summary>Softmax of row[0..t] in place; entries after t (future positions) become 0.</summary>
    private static void CausalSoftmax(Span<float> row, int t, VectorWidth width)
    {
        // Future entries become -inf, whose exp is 0: the vector loops can then run over whole vectors past t
        // (up to the row's end) instead of finishing each row with a scalar tail.
        row.Slice(t + 1).Fill(float.NegativeInfinity);
        int length = WholeVectors(t, row.Length, width);
        var r = row.Slice(0, length);
        float max = VectorOps.Max(r, width);
        float sum = VectorOps.ExpSubtractAndSum(r, max, width);
        VectorOps.Scale(1 / sum, r, width);
        row.Slice(length).Clear();
    }
}
